/**
 * Runs a Lambda handler in a child process, as Lambda runs it in a sandbox: invocations one at
 * a time, a timeout that kills the sandbox, and a fresh cold start after it died. The child can
 * be killed (SIGKILL) at any moment, as a crash mid-batch would.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type InvokeOutcome =
  | { kind: 'response'; response: unknown }
  | { kind: 'functionError'; errorType: string; errorMessage: string };

export interface HandlerProcessOptions {
  /** Path of the module exporting `handler`. */
  module: string;
  /** Environment of the function (its configuration). */
  env: Record<string, string>;
  /** The function timeout: the sandbox is killed when an invocation runs longer. */
  timeoutMs: number;
  /** Child output: inherited by default; 'ignore' keeps a demo's screen clean. */
  stdio?: 'inherit' | 'ignore';
  /** Receives each line the function writes to stdout (its structured logs) instead. */
  onOutput?: (line: string) => void;
}

interface Pending {
  id: number;
  /** The process the invocation went to: only its death fails the invocation. */
  child: ChildProcess;
  resolve: (outcome: InvokeOutcome) => void;
  timer: NodeJS.Timeout;
}

/** Alive and not yet told to die: a killed child may take a moment to exit. */
function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && !child.killed;
}

const childEntry = fileURLToPath(new URL('./handler-child.ts', import.meta.url));

export class HandlerProcess {
  readonly #options: HandlerProcessOptions;
  #child: ChildProcess | undefined;
  #ready: Promise<InvokeOutcome | undefined> | undefined;
  #pending: Pending | undefined;
  #nextId = 1;
  /** Cold starts so far (the first start included). */
  coldStarts = 0;

  constructor(options: HandlerProcessOptions) {
    this.#options = options;
  }

  /** The child's pid, while it runs. */
  get pid(): number | undefined {
    return this.#child && isRunning(this.#child) ? this.#child.pid : undefined;
  }

  /** Starts the sandbox (cold start) unless it runs; resolves with an init error if it failed. */
  #start(): Promise<InvokeOutcome | undefined> {
    if (this.#ready && this.#child && isRunning(this.#child)) return this.#ready;
    this.coldStarts += 1;
    const child = fork(childEntry, [], {
      env: { ...process.env, ...this.#options.env, SEQGUARD_HANDLER_MODULE: this.#options.module },
      stdio: this.#options.onOutput
        ? ['ignore', 'pipe', this.#options.stdio === 'ignore' ? 'ignore' : 'inherit', 'ipc']
        : this.#options.stdio === 'ignore'
          ? ['ignore', 'ignore', 'ignore', 'ipc']
          : 'inherit',
      serialization: 'json',
    });
    this.#child = child;
    // A message sent just as the child dies fails with EPIPE: the invocation's send callback
    // turns that into a function error; this keeps it from crashing the emulator too.
    child.on('error', () => {});
    const onOutput = this.#options.onOutput;
    if (onOutput && child.stdout) createInterface({ input: child.stdout }).on('line', onOutput);
    this.#ready = new Promise((resolve) => {
      child.on('message', (message: Record<string, unknown>) => {
        if (message.ready) resolve(undefined);
        else if (message.initError)
          resolve({
            kind: 'functionError',
            ...(message.initError as { errorType: string; errorMessage: string }),
          });
        else this.#settle(message);
      });
      child.once('exit', (code, signal) => {
        const outcome: InvokeOutcome = {
          kind: 'functionError',
          errorType: 'Runtime.ExitError',
          errorMessage: `the handler process exited (${signal ?? `code ${code}`})`,
        };
        resolve(outcome);
        if (this.#pending?.child === child) this.#settle({ id: this.#pending.id, error: outcome });
      });
    });
    return this.#ready;
  }

  #settle(message: Record<string, unknown>): void {
    const pending = this.#pending;
    if (!pending || message.id !== pending.id) return;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    if ('response' in message) pending.resolve({ kind: 'response', response: message.response });
    else {
      const error = message.error as { errorType: string; errorMessage: string };
      pending.resolve({
        kind: 'functionError',
        errorType: error.errorType,
        errorMessage: error.errorMessage,
      });
    }
  }

  /** One invocation; a crash, a timeout or a thrown error is a function error, as in Lambda. */
  async invoke(event: unknown): Promise<InvokeOutcome> {
    if (this.#pending) throw new Error('HandlerProcess serves one invocation at a time');
    const initError = await this.#start();
    if (initError) return initError;
    const child = this.#child as ChildProcess;
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        resolve({
          kind: 'functionError',
          errorType: 'Sandbox.Timedout',
          errorMessage: `the invocation ran longer than ${this.#options.timeoutMs} ms`,
        });
        this.#pending = undefined;
        child.kill('SIGKILL');
      }, this.#options.timeoutMs);
      this.#pending = { id, child, resolve, timer };
      child.send({ id, event, timeoutMs: this.#options.timeoutMs }, (error) => {
        if (!error) return;
        this.#settle({
          id,
          error: {
            errorType: 'Runtime.ExitError',
            errorMessage: `the handler process is gone: ${error.message}`,
          },
        });
        child.kill('SIGKILL');
      });
    });
  }

  /** Kills the sandbox now (SIGKILL by default), as a crash would; the next invoke cold-starts. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const child = this.#child;
    if (!child || !isRunning(child)) return false;
    return child.kill(signal);
  }

  async close(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }
}
