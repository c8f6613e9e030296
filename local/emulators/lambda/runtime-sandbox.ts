/**
 * A function's deployed bundle run as Lambda runs it: the asset `cdk deploy` uploads, loaded by
 * AWS's Node.js Runtime Interface Client on Node 24 under AWS's Lambda Runtime Interface Emulator,
 * and invoked through the Invoke API (POST /2015-03-31/functions/function/invocations). The
 * emulator enforces the function timeout (whole seconds, as Lambda's), restarts the runtime after
 * a crash or a timeout (a fresh cold start), and prints Lambda's START / END / REPORT lines; each
 * REPORT is kept (`reports`), and each cold start's init time (`INIT REPORT`).
 *
 * What the emulator answers, and how it maps to the outcomes of HandlerProcess:
 * - 200 with the handler's JSON: a response;
 * - 200 with `{errorType, errorMessage, trace}`: the handler threw (a function error; the
 *   emulator sends no X-Amz-Function-Error header);
 * - 200 with "Task timed out after N seconds": Sandbox.Timedout, the runtime killed;
 * - 502 after the runtime's init failed (its log says `INIT RTDONE(status: error)`): an init
 *   error, as Lambda reports it (e.g. Runtime.ImportModuleError); else 502 is the runtime's death
 *   (Runtime.ExitError), a function error.
 * The emulator serves one invocation at a time (a second one at once crashes it): so does this.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { stopChild } from '../commands.ts';
import { FunctionInitError, LocalRuntimeError } from '../errors.ts';
import { canConnect, freePorts } from '../ports.ts';
import type { InvokeOutcome } from './handler-process.ts';
import { lambdaNodeFlags } from './node-flags.ts';
import { lambdaRuntimeTools } from './runtime-tools.ts';

export interface RuntimeSandboxOptions {
  /** The function's asset folder (cdk.out/asset.<hash>). */
  assetDir: string;
  /** The handler string of the function, e.g. "index.handler". */
  handler: string;
  /** The function's environment: the stack's variables, with local endpoints. */
  env: Record<string, string>;
  functionName: string;
  /** The function timeout; Lambda's is whole seconds, so it is rounded up to one. */
  timeoutMs: number;
  /** The function's memory (MiB): the heap flags Lambda's bootstrap gives Node (node-flags.ts). */
  memoryMiB: number;
  /** Function and emulator output: hidden by default; 'inherit' shows it. */
  stdio?: 'inherit' | 'ignore';
  /** Each line the function writes (its structured logs), without the emulator's own lines. */
  onOutput?: (line: string) => void;
}

/** One REPORT line of the emulator: what Lambda bills and logs per invocation. */
export interface InvocationReport {
  durationMs: number;
  billedMs: number;
  /** Present on the invocation that followed a cold start. */
  initDurationMs?: number;
}

/** The last lines of output kept to explain a failed cold start. */
const OUTPUT_TAIL_LINES = 40;
/** How long past the function timeout the emulator may take to answer before it is killed. */
const ANSWER_GRACE_MS = 10_000;

const report =
  /^REPORT RequestId: \S+\s+(?:Init Duration: ([\d.]+) ms\s+)?Duration: ([\d.]+) ms\s+Billed Duration: (\d+) ms/;
const initReport = /INIT REPORT\(durationMs: ([\d.]+)\)/;
const emulatorLine =
  /^(START RequestId|END RequestId|REPORT RequestId|\d\d \w{3} \d{4} [\d:,]+ \[\w+\])/;

export class RuntimeSandbox {
  readonly #options: RuntimeSandboxOptions;
  #emulator: ChildProcess | undefined;
  #port = 0;
  #busy = false;
  #initFailed = false;
  #tmp: string | undefined;
  /** The signal kill() sent during the current invocation, to name a crash it caused. */
  #killedWith: NodeJS.Signals | undefined;
  #tail: string[] = [];
  /** Every REPORT line so far, in order. */
  readonly reports: InvocationReport[] = [];
  /** The init time of each cold start (INIT REPORT), ms. */
  readonly initDurations: number[] = [];
  /** Cold starts so far: runtimes started (after a crash or a timeout too). */
  coldStarts = 0;
  /** When the current emulator was spawned (performance.now()): a cold start's first moment. */
  startedAt: number | undefined;

  constructor(options: RuntimeSandboxOptions) {
    this.#options = options;
  }

  get busy(): boolean {
    return this.#busy;
  }

  /** The runtime's pid (the Node process the emulator started), while it runs. */
  get pid(): number | undefined {
    const emulator = this.#emulator?.pid;
    if (emulator === undefined) return undefined;
    // The emulator is a Go program: the thread that started the runtime lists it as its child.
    try {
      for (const task of readdirSync(`/proc/${emulator}/task`)) {
        const children = readFileSync(`/proc/${emulator}/task/${task}/children`, 'utf8').trim();
        const pid = Number(children.split(/\s+/)[0]);
        if (pid > 0) return pid;
      }
    } catch {
      // The emulator exited meanwhile.
    }
    return undefined;
  }

  async #start(): Promise<void> {
    const running = this.#emulator;
    if (running && running.exitCode === null && running.signalCode === null) return;
    const tools = await lambdaRuntimeTools();
    // Lambda's /tmp: the execution environment's own, gone with it (the runtime client keeps
    // Node's compile cache there).
    this.#tmp ??= await mkdtemp(join(tmpdir(), 'seqguard-lambda-tmp-'));
    const { assetDir, handler, env, functionName, memoryMiB } = this.#options;
    const [port, runtimeApi] = (await freePorts(2)) as [number, number];
    this.startedAt = performance.now();
    const emulator = spawn(
      tools.rie,
      [
        '--runtime-interface-emulator-address',
        `127.0.0.1:${port}`,
        '--runtime-api-address',
        `127.0.0.1:${runtimeApi}`,
        tools.node,
        ...lambdaNodeFlags(memoryMiB),
        tools.ric,
        handler,
      ],
      {
        cwd: assetDir,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/tmp',
          TZ: ':UTC',
          LANG: 'en_US.UTF-8',
          ...env,
          TMPDIR: this.#tmp,
          LAMBDA_TASK_ROOT: assetDir,
          _HANDLER: handler,
          AWS_LAMBDA_FUNCTION_NAME: functionName,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMiB),
          AWS_LAMBDA_FUNCTION_TIMEOUT: String(this.#timeoutSeconds()),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    emulator.on('error', () => {});
    for (const stream of [emulator.stdout, emulator.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.#line(line));
    }
    this.#emulator = emulator;
    this.#port = port;
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (emulator.exitCode !== null || Date.now() > deadline)
        throw new LocalRuntimeError(
          `the Lambda Runtime Interface Emulator did not listen on port ${port}:\n${this.#tail.join('\n')}`,
        );
      await sleep(10);
    }
  }

  #timeoutSeconds(): number {
    return Math.max(1, Math.ceil(this.#options.timeoutMs / 1000));
  }

  #line(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > OUTPUT_TAIL_LINES) this.#tail.shift();
    if (this.#options.stdio === 'inherit') console.error(line);
    if (line.includes('INIT START')) this.coldStarts += 1;
    if (line.includes('INIT RTDONE(status: error)') || line.includes('Init failed'))
      this.#initFailed = true;
    const init = initReport.exec(line);
    if (init) this.initDurations.push(Number(init[1]));
    const match = report.exec(line);
    if (match) {
      this.reports.push({
        durationMs: Number(match[2]),
        billedMs: Number(match[3]),
        ...(match[1] === undefined ? {} : { initDurationMs: Number(match[1]) }),
      });
    }
    if (!emulatorLine.test(line)) this.#options.onOutput?.(line);
  }

  /**
   * Starts the emulator and cold-starts the runtime with one invocation of `event` (an event the
   * function answers without side effects), as a function that served traffic before is warm.
   * Throws FunctionInitError when the cold start fails.
   */
  async warmUp(event: unknown): Promise<void> {
    const outcome = await this.invoke(event);
    if (outcome.kind === 'initError')
      throw new FunctionInitError(outcome.errorType, outcome.errorMessage, outcome.output);
  }

  /** One invocation through the Invoke API; a crash, a timeout or a thrown error is a function error. */
  async invoke(event: unknown): Promise<InvokeOutcome> {
    if (this.#busy) throw new LocalRuntimeError('RuntimeSandbox serves one invocation at a time');
    this.#busy = true;
    this.#killedWith = undefined;
    try {
      await this.#start();
      this.#initFailed = false;
      const outcome = await this.#post(event);
      const signal = this.#killedWith;
      if (!signal || outcome.kind === 'response') return outcome;
      // A crash we caused: the emulator says only that the runtime exited (or, killed before it
      // took the event, that its init failed). Either way a function error, naming the signal:
      // the next invocation cold-starts, as after any crash.
      return {
        kind: 'functionError',
        errorType: 'Runtime.ExitError',
        errorMessage: `the runtime was killed (${signal}): ${outcome.errorMessage}`,
      };
    } finally {
      this.#busy = false;
    }
  }

  async #post(event: unknown): Promise<InvokeOutcome> {
    let response: Response;
    try {
      response = await fetch(
        `http://127.0.0.1:${this.#port}/2015-03-31/functions/function/invocations`,
        {
          method: 'POST',
          body: JSON.stringify(event),
          signal: AbortSignal.timeout(this.#timeoutSeconds() * 1000 + ANSWER_GRACE_MS),
        },
      );
    } catch (error) {
      // The emulator died or hung: start a fresh one on the next invocation.
      this.#emulator?.kill('SIGKILL');
      return {
        kind: 'functionError',
        errorType: 'Runtime.ExitError',
        errorMessage: `the Lambda Runtime Interface Emulator did not answer: ${(error as Error).message}`,
      };
    }
    const text = await response.text();
    if (response.status === 200 && text.startsWith('Task timed out after'))
      return { kind: 'functionError', errorType: 'Sandbox.Timedout', errorMessage: text };
    const body = parseBody(text);
    const error = errorOf(body);
    if (response.status === 200)
      return error ? { kind: 'functionError', ...error } : { kind: 'response', response: body };
    const failure = error ?? { errorType: `HTTP ${response.status}`, errorMessage: text };
    // The runtime's log lines of the failed init may still be arriving.
    await sleep(20);
    return this.#initFailed
      ? { kind: 'initError', ...failure, output: this.#tail.join('\n') }
      : { kind: 'functionError', ...failure };
  }

  /** Kills the runtime now (SIGKILL by default), as a crash would; the next invoke cold-starts. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const pid = this.pid;
    if (pid === undefined) return false;
    try {
      process.kill(pid, signal);
      if (this.#busy) this.#killedWith = signal;
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#emulator) await stopChild(this.#emulator, 2_000);
    if (this.#tmp) await rm(this.#tmp, { recursive: true, force: true });
    this.#tmp = undefined;
  }
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The payload of a function error, as the runtime client writes it. */
function errorOf(body: unknown): { errorType: string; errorMessage: string } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { errorType, errorMessage } = body as Record<string, unknown>;
  if (typeof errorType !== 'string' || typeof errorMessage !== 'string') return undefined;
  return { errorType, errorMessage };
}
