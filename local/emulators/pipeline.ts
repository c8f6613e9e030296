/**
 * The local pipeline: the real apply-events function in its sandbox, fed by the event source
 * mapping emulator from a real Kafka topic, writing to a real Redis. Used by the demo, the soak,
 * the latency benchmark and the end-to-end tests.
 *
 * The sandbox runs what `cdk deploy` ships by default: the function's bundle from the synthesized
 * cloud assembly, under AWS's Lambda Runtime Interface Emulator and Node.js Runtime Interface
 * Client (lambda/runtime-sandbox.ts), with the stack's environment and local endpoints in place of
 * the clusters. `SEQGUARD_LOCAL_SANDBOX=source` runs the TypeScript handler module in a forked
 * process instead (lambda/handler-process.ts): no bundling, so a debugger or a quick edit reaches
 * the source as written (docs/local-runtime.md).
 */
import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MSKEvent } from 'aws-lambda';
import { functionMemoryMiB, triggerGroupId } from '../../core/index.ts';
import { LocalRuntimeError } from './errors.ts';
import { type DeployedFunction, deployedFunction } from './lambda/deployed-assets.ts';
import { emptyMskEvent } from './lambda/empty-msk-event.ts';
import {
  EventSourceMapping,
  type EventSourceMappingOptions,
} from './lambda/event-source-mapping.ts';
import { HandlerProcess } from './lambda/handler-process.ts';
import { localEnvironment } from './lambda/local-environment.ts';
import { RuntimeSandbox } from './lambda/runtime-sandbox.ts';

const applyEventsModule = fileURLToPath(
  new URL('../../functions/apply-events/handler.ts', import.meta.url),
);

/** `bundle`: the deployed artifact under AWS's runtime; `source`: the TypeScript module. */
export type SandboxKind = 'bundle' | 'source';

/** The sandbox SEQGUARD_LOCAL_SANDBOX asks for; `bundle` when unset. */
export function localSandboxKind(value = process.env.SEQGUARD_LOCAL_SANDBOX): SandboxKind {
  if (value === undefined || value === '' || value === 'bundle') return 'bundle';
  if (value === 'source') return 'source';
  throw new LocalRuntimeError(
    `SEQGUARD_LOCAL_SANDBOX must be "bundle" (the default: what cdk deploy ships) or "source" (the TypeScript handler module), not "${value}"`,
  );
}

export type FunctionSandbox = RuntimeSandbox | HandlerProcess;

/** The function's part of a pipeline: what runs, in which sandbox, and what it is given. */
export interface PipelineFunctionOptions {
  /**
   * The handler module: functions/apply-events/handler.ts unless given (a handler composed the
   * same way with mutations of its own, as the soak's). The bundle sandbox bundles it as the
   * stack does.
   */
  module?: string;
  /** The bundle sandbox's function, synthesized beforehand (tests share one); else from `module`. */
  deployed?: DeployedFunction;
  /** SEQGUARD_LOCAL_SANDBOX's choice unless given. */
  sandbox?: SandboxKind;
  /** The function's settings: REDIS_URL and any SEQGUARD_* ones, over the stack's own. */
  env: Record<string, string>;
  /** The stack's timeout of the function unless given (the source sandbox: 30 s). */
  timeoutMs?: number;
  /** Show the function's logs (off by default: Powertools logs one line per batch). */
  output?: boolean;
  /** Receives each line of the function's stdout (its JSON logs) instead of showing it. */
  onOutput?: (line: string) => void;
  /**
   * Called as each invocation starts, with the event it carries: e.g. to crash the sandbox while
   * it runs, or to time the records.
   */
  onInvoke?(sandbox: FunctionSandbox, invocation: number, event: MSKEvent): void;
}

/** The event source mapping's part: its settings but the brokers, which the pipeline gives. */
export type PipelineMappingOptions = Omit<EventSourceMappingOptions, 'invoke' | 'bootstrapBrokers'>;

export interface PipelineOptions {
  /** The brokers the mapping polls and the function reads a ledger's holes from. */
  bootstrap: string;
  function: PipelineFunctionOptions;
  mapping: PipelineMappingOptions;
}

export interface Pipeline {
  mapping: EventSourceMapping;
  sandbox: FunctionSandbox;
  kind: SandboxKind;
  /** The bundle the sandbox runs (bundle sandbox only). */
  deployed?: DeployedFunction;
  /**
   * Cold-starts the function before the first event, as one that served traffic before is warm;
   * rejects with FunctionInitError when it cannot start.
   */
  warmUp(): Promise<void>;
  stop(): Promise<void>;
}

/** Each handler module's functions, synthesized once per process; removed at its exit. */
const synthesized = new Map<string, DeployedFunction>();

/**
 * apply-events as `cdk deploy` bundles it with `module` as its handler (memoized): the stack
 * synthesized without bundling, and apply-events' code alone bundled (deployedFunction), not the
 * other two functions the pipeline never runs.
 */
export function deployedApplyEvents(
  module = applyEventsModule,
  outRoot?: string,
): DeployedFunction {
  const known = synthesized.get(module);
  if (known) return known;
  const fn = deployedFunction('apply-events', {
    ...(module === applyEventsModule ? {} : { handlers: { 'apply-events': module } }),
    ...(outRoot ? { outRoot } : {}),
  });
  if (!outRoot) process.once('exit', () => rmSync(fn.assembly, { recursive: true, force: true }));
  synthesized.set(module, fn);
  return fn;
}

function sandboxFor(
  { bootstrap, function: fn, mapping }: PipelineOptions,
  deployed?: DeployedFunction,
): FunctionSandbox {
  const local = {
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
    // The sink reads Kafka to tell a hole in a partition's ledger from offsets with no record.
    SEQGUARD_KAFKA_BOOTSTRAP: bootstrap,
    SEQGUARD_TOPICS: mapping.topics.join(','),
    SEQGUARD_CONSUMER_GROUP: mapping.groupId,
    ...fn.env,
  };
  const output = {
    stdio: fn.output ? ('inherit' as const) : ('ignore' as const),
    ...(fn.onOutput ? { onOutput: fn.onOutput } : {}),
  };
  if (!deployed) {
    return new HandlerProcess({
      module: fn.module ?? applyEventsModule,
      env: { AWS_LAMBDA_FUNCTION_NAME: 'seqguard-apply-events', ...local },
      timeoutMs: fn.timeoutMs ?? 30_000,
      memoryMiB: functionMemoryMiB['apply-events'],
      ...output,
    });
  }
  return new RuntimeSandbox({
    assetDir: deployed.assetDir,
    handler: deployed.handler,
    env: localEnvironment(deployed.environment, local),
    functionName: 'seqguard-apply-events',
    timeoutMs: fn.timeoutMs ?? deployed.timeoutMs,
    memoryMiB: deployed.memoryMiB,
    ...output,
  });
}

export function startPipeline(options: PipelineOptions): Pipeline {
  const { bootstrap, function: fn, mapping: mappingOptions } = options;
  // One topic per mapping, grouped as Lambda's triggers are (core/kafka/consumer-groups.ts):
  // `groupId` is the base that SEQGUARD_CONSUMER_GROUP gives check-drift.
  const [topic, ...others] = mappingOptions.topics;
  if (topic === undefined || others.length > 0) {
    throw new LocalRuntimeError(
      `a pipeline consumes one topic, as each of Lambda's Kafka triggers does (got ${mappingOptions.topics.length}); start one pipeline per topic`,
    );
  }
  const kind = fn.sandbox ?? localSandboxKind();
  const deployed = kind === 'bundle' ? (fn.deployed ?? deployedApplyEvents(fn.module)) : undefined;
  const sandbox = sandboxFor(options, deployed);
  let invocation = 0;
  const mapping = new EventSourceMapping({
    ...mappingOptions,
    groupId: triggerGroupId(mappingOptions.groupId, topic),
    bootstrapBrokers: [bootstrap],
    invoke: (event) => {
      invocation += 1;
      const outcome = sandbox.invoke(event);
      fn.onInvoke?.(sandbox, invocation, event);
      return outcome;
    },
  });
  mapping.start();
  return {
    mapping,
    sandbox,
    kind,
    ...(deployed ? { deployed } : {}),
    warmUp: () =>
      sandbox instanceof RuntimeSandbox ? sandbox.warmUp(emptyMskEvent) : sandbox.warmUp(),
    stop: async () => {
      await mapping.stop();
      await sandbox.close();
    },
  };
}

/** What the pipelines' sandboxes run, and the durations Lambda's runtime reported for them. */
export interface SandboxSummary {
  /** In words: the deployed bundle under AWS's runtime, or the TypeScript source. */
  runs: string;
  /** Each cold start's init (INIT REPORT), ms: the bundle sandbox only. */
  initMs: number[];
  /** Each invocation's Duration (REPORT), ms: the bundle sandbox only. */
  durationsMs: number[];
}

export function sandboxSummary(pipelines: Pipeline[]): SandboxSummary {
  const bundles = pipelines.flatMap((p) => (p.deployed ? [p.deployed] : []));
  const runtimes = pipelines.flatMap((p) =>
    p.sandbox instanceof RuntimeSandbox ? [p.sandbox] : [],
  );
  const first = bundles[0];
  const runs = first
    ? `the deployed bundle (${first.handler.replace(/\..*$/, '.mjs')} of ${basename(first.assetDir).slice(0, 18)}…, ${(first.bundleBytes / 1e6).toFixed(2)} MB) under AWS's Lambda Runtime Interface Emulator and Node.js runtime client, Node ${process.versions.node.split('.')[0]}`
    : 'the TypeScript source in a forked process (SEQGUARD_LOCAL_SANDBOX=source)';
  return {
    runs,
    initMs: runtimes.flatMap((s) => s.initDurations),
    durationsMs: runtimes.flatMap((s) => s.reports.map((r) => r.durationMs)),
  };
}
