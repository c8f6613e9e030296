/**
 * Runs a Lambda handler in a child process, as Lambda runs it in a sandbox: invocations one at
 * a time, a timeout that kills the sandbox, and a fresh cold start after it died. The child can
 * be killed (SIGKILL) at any moment, as a crash mid-batch would.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stopChild } from '../commands.ts';
import { FunctionInitError, LocalRuntimeError } from '../errors.ts';
import { lambdaNodeFlags } from './node-flags.ts';

export type InvokeOutcome =
  | { kind: 'response'; response: unknown }
  | { kind: 'functionError'; errorType: string; errorMessage: string }
  /** The cold start failed: the module did not load, or the process died before it was ready. */
  | { kind: 'initError'; errorType: string; errorMessage: string; output: string };

/** The last lines the function wrote to stderr, kept to explain a failed cold start. */
const STDERR_TAIL_LINES = 40;

export interface HandlerProcessOptions {
  /** Path of the module exporting `handler`. */
  module: string;
  /** Environment of the function (its configuration). */
  env: Record<string, string>;
  /** The function timeout: the sandbox is killed when an invocation runs longer. */
  timeoutMs: number;
  /**
   * The function's memory (MiB): the child gets the V8 heap Lambda's runtime gives it
   * (node-flags.ts) and AWS_LAMBDA_FUNCTION_MEMORY_SIZE. Absent: Node's own defaults.
   */
  memoryMiB?: number;
  /**
   * Child output: inherited by default; 'ignore' keeps a demo's screen clean. Either way the
   * last lines of its stderr are kept for the error of a failed cold start.
   */
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
  #stderrTail: string[] = [];
  /** Cold starts so far (the first start included). */
  coldStarts = 0;

  constructor(options: HandlerProcessOptions) {
    this.#options = options;
  }

  /** An invocation is running: a kill now hits a batch. */
  get busy(): boolean {
    return this.#pending !== undefined;
  }

  /** The child's pid, while it runs. */
  get pid(): number | undefined {
    return this.#child && isRunning(this.#child) ? this.#child.pid : undefined;
  }

  /** Starts the sandbox (cold start) unless it runs; resolves with an init error if it failed. */
  #start(): Promise<InvokeOutcome | undefined> {
    if (this.#ready && this.#child && isRunning(this.#child)) return this.#ready;
    this.coldStarts += 1;
    const inherit = this.#options.stdio !== 'ignore';
    const { memoryMiB } = this.#options;
    const child = fork(childEntry, [], {
      env: {
        ...process.env,
        ...(memoryMiB === undefined ? {} : { AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMiB) }),
        ...this.#options.env,
        SEQGUARD_HANDLER_MODULE: this.#options.module,
      },
      ...(memoryMiB === undefined
        ? {}
        : { execArgv: [...process.execArgv, ...lambdaNodeFlags(memoryMiB)] }),
      stdio: [
        'ignore',
        this.#options.onOutput ? 'pipe' : inherit ? 'inherit' : 'ignore',
        'pipe',
        'ipc',
      ],
      serialization: 'json',
    });
    this.#child = child;
    this.#stderrTail = [];
    // A message sent just as the child dies fails with EPIPE: the invocation's send callback
    // turns that into a function error; this keeps it from crashing the emulator too.
    child.on('error', () => {});
    const onOutput = this.#options.onOutput;
    if (onOutput && child.stdout) createInterface({ input: child.stdout }).on('line', onOutput);
    if (child.stderr) {
      if (inherit) child.stderr.pipe(process.stderr, { end: false });
      const tail = this.#stderrTail;
      createInterface({ input: child.stderr }).on('line', (line) => {
        tail.push(line);
        if (tail.length > STDERR_TAIL_LINES) tail.shift();
      });
    }
    let ready = false;
    const output = () => this.#stderrTail.join('\n');
    this.#ready = new Promise((resolve) => {
      child.on('message', (message: Record<string, unknown>) => {
        if (message.ready) {
          ready = true;
          resolve(undefined);
        } else if (message.initError) {
          const { errorType, errorMessage } = message.initError as {
            errorType: string;
            errorMessage: string;
          };
          // The child exits right after; its stderr may still be arriving.
          child.once('exit', () =>
            resolve({ kind: 'initError', errorType, errorMessage, output: output() }),
          );
        } else this.#settle(message);
      });
      child.once('exit', (code, signal) => {
        // Killed by a signal during its cold start (a crash, as a kill mid-batch is): a
        // function error, retried. Exiting by itself before it was ready: its init failed.
        if (!ready && signal === null) {
          // stderr is read to its end before 'exit' handlers of later ticks: give it one.
          setImmediate(() =>
            resolve({
              kind: 'initError',
              errorType: 'Runtime.ExitError',
              errorMessage: `the handler process exited (${signal ?? `code ${code}`}) during its cold start`,
              output: output(),
            }),
          );
          return;
        }
        const outcome: InvokeOutcome = {
          kind: 'functionError',
          errorType: 'Runtime.ExitError',
          errorMessage: `the handler process exited (${signal ?? `code ${code}`})`,
        };
        // A kill during the cold start fails the invocation waiting for it.
        resolve(outcome);
        if (this.#pending?.child === child) this.#settle({ id: this.#pending.id, error: outcome });
      });
    });
    return this.#ready;
  }

  /**
   * Cold-starts the sandbox now, before the first event, as a function that served traffic
   * before would be. Throws FunctionInitError, with the function's own error and its stderr,
   * when the cold start fails.
   */
  async warmUp(): Promise<void> {
    const failed = await this.#start();
    if (failed?.kind === 'initError')
      throw new FunctionInitError(failed.errorType, failed.errorMessage, failed.output);
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
    if (this.#pending)
      throw new LocalRuntimeError('HandlerProcess serves one invocation at a time');
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
    if (this.#child) await stopChild(this.#child, 2_000);
  }
}
