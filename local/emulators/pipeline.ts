/**
 * The local pipeline: the real apply-events handler in its sandbox process, fed by the event
 * source mapping emulator from a real Kafka topic, writing to a real Redis. Used by the demo
 * and the end-to-end tests.
 */
import { fileURLToPath } from 'node:url';
import type { MSKEvent } from 'aws-lambda';
import { functionMemoryMiB } from '../../core/index.ts';
import {
  type EsmActivity,
  EventSourceMapping,
  type EventSourceMappingOptions,
} from './lambda/event-source-mapping.ts';
import { HandlerProcess } from './lambda/handler-process.ts';

const applyEventsModule = fileURLToPath(
  new URL('../../functions/apply-events/handler.ts', import.meta.url),
);

export interface PipelineOptions
  extends Omit<EventSourceMappingOptions, 'invoke' | 'bootstrapBrokers' | 'onActivity'> {
  bootstrap: string;
  /**
   * The handler module the sandbox imports: functions/apply-events/handler.ts unless given (a
   * handler composed the same way with mutations of its own, as the soak's).
   */
  module?: string;
  /** The function's environment: REDIS_URL and any SEQGUARD_* settings. */
  functionEnv: Record<string, string>;
  functionTimeoutMs?: number;
  /** Show the function's logs (off by default: Powertools logs one line per batch). */
  functionOutput?: boolean;
  /** Receives each line of the function's stdout (its JSON logs) instead of showing it. */
  onFunctionOutput?: (line: string) => void;
  onActivity?(activity: EsmActivity): void;
  /**
   * Called as each invocation starts, with the event it carries: e.g. to crash the sandbox while
   * it runs, or to time the records.
   */
  onInvoke?(sandbox: HandlerProcess, invocation: number, event: MSKEvent): void;
}

export interface Pipeline {
  mapping: EventSourceMapping;
  sandbox: HandlerProcess;
  stop(): Promise<void>;
}

export function startPipeline(options: PipelineOptions): Pipeline {
  const {
    bootstrap,
    module = applyEventsModule,
    functionEnv,
    functionTimeoutMs,
    functionOutput,
    onFunctionOutput,
    onInvoke,
    ...mappingOptions
  } = options;
  const sandbox = new HandlerProcess({
    module,
    env: {
      POWERTOOLS_LOG_LEVEL: 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
      AWS_LAMBDA_FUNCTION_NAME: 'seqguard-apply-events',
      // The sink reads Kafka to tell a hole in a partition's ledger from offsets with no record.
      SEQGUARD_KAFKA_BOOTSTRAP: bootstrap,
      ...functionEnv,
    },
    timeoutMs: functionTimeoutMs ?? 30_000,
    memoryMiB: functionMemoryMiB['apply-events'],
    stdio: functionOutput ? 'inherit' : 'ignore',
    ...(onFunctionOutput ? { onOutput: onFunctionOutput } : {}),
  });
  let invocation = 0;
  const mapping = new EventSourceMapping({
    ...mappingOptions,
    bootstrapBrokers: [bootstrap],
    invoke: (event) => {
      invocation += 1;
      const outcome = sandbox.invoke(event);
      onInvoke?.(sandbox, invocation, event);
      return outcome;
    },
  });
  mapping.start();
  return {
    mapping,
    sandbox,
    stop: async () => {
      await mapping.stop();
      await sandbox.close();
    },
  };
}
