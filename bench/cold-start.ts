/**
 * Cold starts of the deployed bundles (issue 24): each function's bundle as `cdk deploy` ships it
 * (local/emulators/lambda/deployed-assets.ts), run under AWS's Lambda Runtime Interface Emulator
 * and Node.js Runtime Interface Client (local/emulators/lambda/runtime-sandbox.ts), beside two
 * baselines bundled by the same construct: an empty handler, and a bare handler with Powertools
 * Logger and Metrics (bench/cold-start/*-handler.ts). apply-events is held to at most twice the
 * Powertools baseline's cold start, and to a bundle of at most 1 MB.
 *
 * A cold start is a fresh sandbox: its emulator spawned, then one invocation the function
 * answers at once and validly against the bench's Redis and Kafka (apply-events: an MSK batch
 * without records; check-drift: its scheduled call, on an empty topic of its own; replay: offset
 * 0 of that topic's partition, nothing to read; the baselines: the empty batch), then a second,
 * warm, invocation. Per cold start: from the spawn to the first response; the REPORT line's Init
 * Duration and Duration of the first invocation; the INIT REPORT's duration; the second
 * invocation's Duration. One untimed round first (it reads the bundles into the page cache);
 * then in each round every subject cold-starts once, in turns, the first rotating.
 *
 * Which figure holds the module's load is measured, not assumed: each figure's median for
 * apply-events minus the empty handler's (loadShares). On this emulator the REPORT's Init
 * Duration is a fraction of a millisecond, and the load is in the INIT REPORT (the init phase)
 * and again in the first Duration, which the emulator times from the request, init included
 * (Lambda itself reports the init in the REPORT's Init Duration and leaves it out of Duration).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdmin } from '../core/index.ts';
import type {
  DeployedFunction,
  DeployedFunctions,
} from '../local/emulators/lambda/deployed-assets.ts';
import { emptyMskEvent } from '../local/emulators/lambda/empty-msk-event.ts';
import { localEnvironment } from '../local/emulators/lambda/local-environment.ts';
import { RuntimeSandbox } from '../local/emulators/lambda/runtime-sandbox.ts';
import { lambdaRuntimeTools } from '../local/emulators/lambda/runtime-tools.ts';
import { fixed, markdownTable, percentile } from './lib.ts';

/** The two baselines, by the names the tables and the targets give them. */
export const emptyBaseline = 'empty handler (baseline)';
export const powertoolsBaseline = 'Powertools Logger + Metrics (baseline)';

export interface ColdStartOptions {
  /** Timed cold starts per subject. */
  coldStarts: number;
}

export interface ColdStartServices {
  redisUrl: string;
  /** The bench's Kafka broker (plaintext), for check-drift and replay. */
  kafkaBootstrap: string;
}

/** One cold start of one subject, ms. */
export interface ColdStartSample {
  /** From the emulator's spawn to the first invocation's response. */
  spawnToResponseMs: number;
  /** The first REPORT line's Init Duration. */
  reportInitMs: number;
  /** The INIT REPORT line's duration: the runtime's init phase. */
  initReportMs: number;
  /** The first REPORT line's Duration. */
  firstDurationMs: number;
  /** The second (warm) invocation's REPORT Duration. */
  warmDurationMs: number;
}

export interface ColdStartRow {
  subject: string;
  /** The bundle's size (index.mjs), bytes. */
  bundleBytes: number;
  memoryMiB: number;
  /** The invocation, in words. */
  invocation: string;
  samples: ColdStartSample[];
}

export interface ColdStartMeasurement extends ColdStartOptions {
  rows: ColdStartRow[];
  /** Every invocation answered as it should. */
  correct: boolean;
  wrong: string[];
}

/** The figures of a sample, by the names the tables give them. */
export const coldStartFigures = {
  spawnToResponseMs: 'spawn to first response',
  reportInitMs: 'REPORT Init Duration',
  initReportMs: 'INIT REPORT',
  firstDurationMs: 'first Duration',
  warmDurationMs: 'warm Duration',
} as const satisfies Record<keyof ColdStartSample, string>;

type Figure = keyof ColdStartSample;

/** A subject to cold-start: its bundle, environment, invocation and the answer it must give. */
interface Subject {
  name: string;
  fn: DeployedFunction;
  memoryMiB: number;
  env: Record<string, string>;
  event: unknown;
  invocation: string;
  /** Why the answer is wrong; undefined when it is right. */
  check(response: unknown): string | undefined;
}

/**
 * The stack's variables with the bench's servers in place of the clusters (localEnvironment: the
 * Redis password from Secrets Manager and the MSK cluster, and with it MSK IAM, left out), Kafka
 * plaintext.
 */
export function localFunctionEnv(
  environment: Record<string, string>,
  services: ColdStartServices,
  topic: string,
): Record<string, string> {
  return localEnvironment(environment, {
    REDIS_URL: services.redisUrl,
    SEQGUARD_REDIS_CLUSTER: 'false',
    SEQGUARD_KAFKA_BOOTSTRAP: services.kafkaBootstrap,
    SEQGUARD_TOPICS: topic,
  });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

const expectOk = (response: unknown) =>
  isObject(response) && response.ok === true ? undefined : 'not {ok: true}';

/** The five subjects: the functions with their own memory, the baselines with apply-events'. */
function subjectsOf(
  functions: DeployedFunctions,
  baselines: DeployedFunctions,
  services: ColdStartServices,
  topic: string,
): Subject[] {
  const apply = functions['apply-events'];
  const envOf = (fn: DeployedFunction) => localFunctionEnv(fn.environment, services, topic);
  const baseline = (name: string, fn: DeployedFunction): Subject => ({
    name,
    fn,
    memoryMiB: apply.memoryMiB,
    env: envOf(apply),
    event: emptyMskEvent,
    invocation: 'the MSK batch without records',
    check: expectOk,
  });
  return [
    {
      name: 'apply-events',
      fn: apply,
      memoryMiB: apply.memoryMiB,
      env: envOf(apply),
      event: emptyMskEvent,
      invocation: 'an MSK batch without records',
      check: (r) =>
        isObject(r) && Array.isArray(r.batchItemFailures) && r.batchItemFailures.length === 0
          ? undefined
          : 'not {batchItemFailures: []}',
    },
    {
      name: 'check-drift',
      fn: functions['check-drift'],
      memoryMiB: functions['check-drift'].memoryMiB,
      env: envOf(functions['check-drift']),
      event: {},
      invocation: 'its scheduled call, one empty topic',
      check: (r) => (isObject(r) && isObject(r.values) ? undefined : 'no drift report'),
    },
    {
      name: 'replay',
      fn: functions.replay,
      memoryMiB: functions.replay.memoryMiB,
      env: envOf(functions.replay),
      event: { topic, partition: 0, from: '0' },
      invocation: 'offset 0 of an empty partition',
      check: (r) =>
        isObject(r) && r.records === 0 && r.failed === 0 ? undefined : 'not 0 records replayed',
    },
    baseline(emptyBaseline, baselines['check-drift']),
    baseline(powertoolsBaseline, baselines.replay),
  ];
}

/** One cold start: a fresh sandbox, its first invocation and a warm one. */
async function coldStart(subject: Subject, wrong: string[]): Promise<ColdStartSample> {
  const { fn, env, memoryMiB, event } = subject;
  const sandbox = new RuntimeSandbox({
    assetDir: fn.assetDir,
    handler: fn.handler,
    env,
    memoryMiB,
    timeoutMs: fn.timeoutMs,
    functionName: `seqguard-cold-start-${fn.name}`,
  });
  try {
    const first = await sandbox.invoke(event);
    const spawnToResponseMs = performance.now() - (sandbox.startedAt ?? Number.NaN);
    const warm = await sandbox.invoke(event);
    for (const outcome of [first, warm]) {
      const why =
        outcome.kind === 'response'
          ? subject.check(outcome.response)
          : `${outcome.kind}: ${outcome.errorType}: ${outcome.errorMessage}`;
      if (why !== undefined) wrong.push(`${subject.name}: ${why}`);
    }
    const [cold, second] = sandbox.reports;
    return {
      spawnToResponseMs,
      reportInitMs: cold?.initDurationMs ?? Number.NaN,
      initReportMs: sandbox.initDurations[0] ?? Number.NaN,
      firstDurationMs: cold?.durationMs ?? Number.NaN,
      warmDurationMs: second?.durationMs ?? Number.NaN,
    };
  } finally {
    await sandbox.close();
  }
}

/**
 * The functions and the baselines, bundled by the same construct, into `outRoot`. The synth is
 * imported here, not at the top: aws-cdk-lib takes seconds to load, and the tables need none of it.
 */
async function synthesizeSubjects(outRoot: string) {
  const { synthesizeFunctions } = await import('../local/emulators/lambda/deployed-assets.ts');
  const functions = synthesizeFunctions({ outRoot });
  // The baselines take the places of check-drift and replay in a second synth: same bundling.
  const baselines = synthesizeFunctions({
    outRoot,
    handlers: {
      'check-drift': join(import.meta.dirname, 'cold-start', 'empty-handler.ts'),
      replay: join(import.meta.dirname, 'cold-start', 'powertools-handler.ts'),
    },
  });
  return { functions, baselines };
}

export async function measureColdStarts(
  services: ColdStartServices,
  options: ColdStartOptions,
): Promise<ColdStartMeasurement> {
  await lambdaRuntimeTools();
  const outRoot = await mkdtemp(join(tmpdir(), 'seqguard-cold-start-'));
  const topic = `seqguard-cold-start-${randomBytes(3).toString('hex')}`;
  const admin = createAdmin({
    clientId: 'seqguard-bench',
    bootstrapBrokers: [services.kafkaBootstrap],
  });
  try {
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
  } finally {
    await admin.close();
  }
  try {
    const { functions, baselines } = await synthesizeSubjects(outRoot);
    const subjects = subjectsOf(functions, baselines, services, topic);
    const wrong: string[] = [];
    const samples = subjects.map((): ColdStartSample[] => []);
    for (let round = -1; round < options.coldStarts; round++) {
      for (let turn = 0; turn < subjects.length; turn++) {
        const at = (Math.max(round, 0) + turn) % subjects.length;
        const sample = await coldStart(subjects[at] as Subject, wrong);
        if (round >= 0) samples[at]?.push(sample);
      }
    }
    return {
      ...options,
      rows: subjects.map((s, i) => ({
        subject: s.name,
        bundleBytes: s.fn.bundleBytes,
        memoryMiB: s.memoryMiB,
        invocation: s.invocation,
        samples: samples[i] ?? [],
      })),
      correct: wrong.length === 0,
      wrong: [...new Set(wrong)],
    };
  } finally {
    await rm(outRoot, { recursive: true, force: true });
  }
}

/** The median of a figure over a row's cold starts, with the lowest and the highest. */
export function figureOf(
  row: ColdStartRow,
  figure: Figure,
): { median: number; min: number; max: number } {
  const values = row.samples.map((s) => s[figure]);
  return {
    median: percentile(values, 50),
    min: values.length > 0 ? Math.min(...values) : Number.NaN,
    max: values.length > 0 ? Math.max(...values) : Number.NaN,
  };
}

/** "median (min–max)" in ms: two decimals below 10 ms, one below 100, none above. */
export function medianRange(row: ColdStartRow, figure: Figure): string {
  const { median, min, max } = figureOf(row, figure);
  const digits = median < 10 ? 2 : median < 100 ? 1 : 0;
  return row.samples.length > 1
    ? `${fixed(median, digits)} (${fixed(min, digits)}–${fixed(max, digits)})`
    : fixed(median, digits);
}

export function coldStartTable(m: ColdStartMeasurement): string {
  const figures = Object.keys(coldStartFigures) as Figure[];
  return markdownTable(
    [
      'subject',
      'bundle bytes',
      'memory',
      'invoked with',
      ...figures.map((f) => `${coldStartFigures[f]}, ms`),
    ],
    m.rows.map((row) => [
      row.subject,
      fixed(row.bundleBytes),
      `${fixed(row.memoryMiB)} MiB`,
      row.invocation,
      ...figures.map((f) => medianRange(row, f)),
    ]),
  );
}

const rowNamed = (m: ColdStartMeasurement, subject: string) =>
  m.rows.find((r) => r.subject === subject);

/**
 * A subject's spawn to first response over a baseline's: the median of the rounds' own ratios
 * (the subjects take turns, so a round's two cold starts met the machine's load of one moment),
 * with their range.
 */
export function coldStartRatio(
  m: ColdStartMeasurement,
  subject: string,
  baseline: string,
): { median: number; min: number; max: number } {
  const of = rowNamed(m, subject)?.samples ?? [];
  const base = rowNamed(m, baseline)?.samples ?? [];
  const ratios = of.flatMap((s, i) => {
    const b = base[i];
    return b ? [s.spawnToResponseMs / b.spawnToResponseMs] : [];
  });
  return {
    median: percentile(ratios, 50),
    min: ratios.length > 0 ? Math.min(...ratios) : Number.NaN,
    max: ratios.length > 0 ? Math.max(...ratios) : Number.NaN,
  };
}

/**
 * Where the module's load shows: for each figure, the median of `subject` minus the empty
 * baseline's (what the code adds on top of the runtime), beside the same for spawn to first
 * response.
 */
export function loadShares(
  m: ColdStartMeasurement,
  subject = 'apply-events',
): Record<Figure, number> {
  const of = rowNamed(m, subject);
  const empty = rowNamed(m, emptyBaseline);
  const figures = Object.keys(coldStartFigures) as Figure[];
  return Object.fromEntries(
    figures.map((f) => [
      f,
      of && empty ? figureOf(of, f).median - figureOf(empty, f).median : Number.NaN,
    ]),
  ) as Record<Figure, number>;
}

/**
 * The figures a REPORT or INIT REPORT line gives that hold the load: those whose added time
 * (loadShares) is at least half of what the subject adds to spawn to first response.
 */
export function loadFigures(m: ColdStartMeasurement, subject = 'apply-events'): Figure[] {
  const shares = loadShares(m, subject);
  const total = shares.spawnToResponseMs;
  const reported: Figure[] = ['reportInitMs', 'initReportMs', 'firstDurationMs'];
  return reported.filter((f) => total > 0 && shares[f] >= total / 2);
}
