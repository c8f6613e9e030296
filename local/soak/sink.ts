/**
 * The soak's sink: the real apply-events function (composed with the soak's mutations,
 * handler.ts) through the event source mapping emulator, what it reports (its counts, its last
 * error, its invocations), and the sink kills the schedule arms. A kill is sent at its point
 * (mid-invocation, while the guard's call is on its way, or after the guard and before the batch
 * response) and armed again until one hits a batch.
 */

import { fileURLToPath } from 'node:url';
import { triggerDefaults } from '../../core/index.ts';
import type { EsmActivity } from '../emulators/lambda/event-source-mapping.ts';
import {
  type FunctionSandbox,
  type Pipeline,
  type PipelineOptions,
  startPipeline,
} from '../emulators/pipeline.ts';
import type { KafkaClients } from '../scenario/secured-clients.ts';
import type { KillPoint, ScheduledFault } from './schedule.ts';

/** The soak's handler module: apply-events with `scenarioMutations` registered. */
export const soakHandlerModule = fileURLToPath(new URL('./handler.ts', import.meta.url));

/**
 * The pipeline's settings but the mapping's group, shared by the sink and the redelivery storm's
 * second mapping.
 */
export type SoakPipelineOptions = Omit<PipelineOptions, 'mapping'> & {
  mapping: Omit<PipelineOptions['mapping'], 'groupId'>;
};

export function pipelineOptionsOf(
  kafka: KafkaClients,
  topic: string,
  functionEnv: Record<string, string>,
): SoakPipelineOptions {
  const security = kafka.connection.mskIam
    ? { mskIam: kafka.connection.mskIam, tlsCaPem: kafka.connection.tlsCaPem as string }
    : undefined;
  return {
    bootstrap: kafka.connection.bootstrapBrokers.join(','),
    function: { module: soakHandlerModule, env: functionEnv },
    mapping: {
      ...(security ? { security } : {}),
      topics: [topic],
      // The deployed trigger's batch size; a shorter window than its 1 s, so a run of minutes
      // sees many invocations for the faults to hit.
      batchSize: triggerDefaults.batchSize,
      batchWindowMs: 100,
      retryBackoffMs: 200,
    },
  };
}

export class SoakSink {
  /** The function's own counts, from its structured log line per batch. */
  readonly handlerCounts = { applied: 0, duplicates: 0, refused: 0, deadLettered: 0, late: 0 };
  readonly activity = { invocations: 0, functionErrors: 0, killsSent: 0, killsHit: 0 };
  /** The function's last error, to say why a run stalls. */
  lastFunctionError = '';
  /** Why the mapping stopped for good (a function that cannot start), once it did. */
  halted: Error | undefined;
  /** Sink kills the schedule armed that have not hit a batch yet. */
  readonly armed: ScheduledFault[] = [];
  #killInFlight: ScheduledFault | undefined;
  /** The last 200 successful invocations' durations, for the mid-invocation kills. */
  readonly #invocationMs: number[] = [];
  #pipeline: Pipeline | undefined;

  get pipeline(): Pipeline {
    return this.#pipeline as Pipeline;
  }

  /** Arms a sink kill: it is sent when its point comes. */
  arm(fault: ScheduledFault): void {
    this.armed.push(fault);
  }

  /**
   * A request from the sink to Redis, seen by the proxy: a large one is the guard's EVALSHA (its
   * events travel as one argument).
   */
  onSinkChunk(bytes: number): void {
    const fault = this.#armedAt('inGuardCall');
    if (fault && bytes >= 2_048) this.#kill(fault);
  }

  /**
   * Starts the pipeline under `groupId` and puts it on `resources`; resolves once the function's
   * cold start is done, rejects if it cannot start.
   */
  async start(
    options: SoakPipelineOptions,
    groupId: string,
    resources: AsyncDisposableStack,
  ): Promise<Pipeline> {
    const pipeline = startPipeline({
      bootstrap: options.bootstrap,
      function: {
        ...options.function,
        onOutput: (line) => this.#onFunctionOutput(line),
        onInvoke: (sandbox) => this.#onInvoke(sandbox),
      },
      mapping: { ...options.mapping, groupId, onActivity: (a) => this.#onActivity(a) },
    });
    this.#pipeline = pipeline;
    resources.defer(() => pipeline.stop());
    void pipeline.mapping.halted.then((error) => {
      this.halted = error;
    });
    await Promise.race([pipeline.warmUp(), pipeline.mapping.halted.then((e) => Promise.reject(e))]);
    return pipeline;
  }

  #armedAt(point: KillPoint): ScheduledFault | undefined {
    return this.armed.find((f) => f.point === point);
  }

  #kill(fault: ScheduledFault): boolean {
    const pipeline = this.#pipeline;
    if (!pipeline || this.#killInFlight || !pipeline.sandbox.busy) return false;
    if (!pipeline.sandbox.kill('SIGKILL')) return false;
    this.armed.splice(this.armed.indexOf(fault), 1);
    this.#killInFlight = fault;
    this.activity.killsSent += 1;
    return true;
  }

  #onFunctionOutput(line: string): void {
    if (line.includes('"level":"ERROR"')) this.lastFunctionError = line.slice(0, 500);
    if (!line.includes('"batch applied"')) return;
    const entry = JSON.parse(line) as Record<string, number>;
    for (const key of Object.keys(this.handlerCounts) as (keyof SoakSink['handlerCounts'])[])
      this.handlerCounts[key] += entry[key] ?? 0;
    // The batch is applied and its response not yet sent: between the guard and the commit.
    const fault = this.#armedAt('afterGuard');
    if (fault) this.#kill(fault);
  }

  #onActivity(a: EsmActivity): void {
    if (a.kind === 'pollerError') this.lastFunctionError = `the poller failed: ${a.error.message}`;
    if (a.kind !== 'invoked') return;
    this.activity.invocations += 1;
    if (a.outcome === 'functionError') {
      this.activity.functionErrors += 1;
      if (a.detail) this.lastFunctionError = a.detail;
    }
    if (a.outcome === 'success') {
      this.#invocationMs.push(a.durationMs);
      if (this.#invocationMs.length > 200) this.#invocationMs.shift();
    }
    if (this.#killInFlight) {
      const fault = this.#killInFlight;
      this.#killInFlight = undefined;
      if (a.outcome === 'functionError' && /SIGKILL/.test(a.detail ?? ''))
        this.activity.killsHit += 1;
      else this.armed.push(fault); // it reached the sandbox after the invocation ended: again
    }
  }

  #onInvoke(sandbox: FunctionSandbox): void {
    const fault = this.#armedAt('midInvocation');
    if (!fault) return;
    const sorted = [...this.#invocationMs].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 20;
    setTimeout(() => sandbox.busy && this.#kill(fault), Math.random() * median);
  }
}
