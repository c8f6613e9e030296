/**
 * Produce-to-visible latency against offered load, in low-latency mode: the event source mapping
 * emulator with a batching window of 0 (what AWS documents as the low-latency configuration of a
 * Kafka trigger, "Low latency processing for Kafka event sources",
 * https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-low-latency.html), the real
 * apply-events handler in its own process, a local broker and redis-server.
 *
 * Each point of the curve is a run of its own (topic, consumer group, key prefix, handler
 * process): events in the seed format are published at the offered rate, each stamped with the
 * time it was due and sent with the others due within the producer's linger (not in bursts), for
 * `seconds` after a warm-up; the latency of each event is its stream entry's id (Redis' clock
 * when the guard applied it) minus its record's timestamp. Both clocks are this machine's.
 *
 * Where the time goes is measured per event too: the produce request (record timestamp to the
 * broker's acknowledgement, acks=all), the wait until the invocation that carries it starts
 * (fetch, the emulator's queue behind the invocation running), and the invocation up to the
 * guard's write (the Invoke API hop to the function, decode, the Lua call).
 *
 * A point asked to (`{ readable: true }`) also waits, with a reader, for the position of each
 * send as it returns, without holding the producer up: produce-to-readable
 * (bench/produce-to-readable.ts).
 *
 * A point is saturated when the consumer lag keeps growing while events are offered (its slope
 * over the second half of the run exceeds 5% of the offered rate) or the producer cannot send at
 * the offered rate: from there latency is a queue's growth, not the pipeline's.
 *
 *   node bench/latency-curve.ts [--rates 500,1000,2000] [--seconds 10] [--batch-size 100]
 *                               [--linger 5] [--quick] [--html file]
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  createAdmin,
  createRedisClient,
  decodeStreamEntry,
  type RedisClient,
  shardKeys,
  topicPartition,
} from '../core/index.ts';
import { createProducer, type OutgoingEvent, publishEvents } from '../core/producer/index.ts';
import { startKafkaBroker } from '../local/emulators/kafka/broker.ts';
import { startPipeline } from '../local/emulators/pipeline.ts';
import { startRedisServer } from '../local/emulators/redis/server.ts';
import {
  bursts,
  demoStateName,
  modelOf,
  type TrafficSettings,
} from '../local/scenario/traffic-model.ts';
import { checkAgainstModel } from '../local/scenario/verdict.ts';
import { buildLatencyPage } from './latency-report.ts';
import { fixed, markdownTable, percentile } from './lib.ts';
import { type ReadableFigures, ReadableWaits } from './produce-to-readable.ts';

/** The shard the seed format's events go to (the handler's SEQGUARD_DEFAULT_SHARD). */
const pointShard = 'game';

/** The documentation page the low-latency configuration comes from. */
export const lowLatencyDocs =
  'https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-low-latency.html';

export interface LatencyCurveSettings {
  /** Offered rates, events/s, lowest first. */
  rates: number[];
  /** Measured seconds per point, after the warm-up. */
  seconds: number;
  warmUpSeconds: number;
  partitions: number;
  /** Records per invocation at most (the ESM's BatchSize). */
  batchSize: number;
  /**
   * How long the producer holds events to send them together: Kafka's linger.ms, 5 ms by
   * default since Kafka 4.0 (KIP-1030). Fewer, larger produce requests cost the broker less.
   */
  lingerMs: number;
  /** Stop after the first saturated point. */
  stopWhenSaturated: boolean;
}

export const defaultCurve: LatencyCurveSettings = {
  rates: [
    500, 1_000, 2_000, 3_000, 4_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 40_000, 60_000,
  ],
  seconds: 10,
  warmUpSeconds: 2,
  partitions: 3,
  batchSize: 100,
  lingerMs: 5,
  stopWhenSaturated: true,
};

export const quickCurve: LatencyCurveSettings = {
  ...defaultCurve,
  rates: [1_000, 3_000],
  seconds: 3,
  warmUpSeconds: 1,
};

/** The lines drawn across the latency plot. */
export const latencyReferences = [
  { label: 'AWS: under 100 ms end to end in low-latency mode', ms: 100 },
  { label: "the seed article's claim: 28 ms p99", ms: 28 },
];

/** What every point ran with, in a sentence. */
export function curveSetup(settings: LatencyCurveSettings): string {
  return (
    `Batching window 0 (low-latency mode), batch size up to ${settings.batchSize}, ` +
    `${settings.partitions} partitions, a producer linger of ${settings.lingerMs} ms (counted in the latency), ` +
    `${settings.seconds} s measured per point after ` +
    `${settings.warmUpSeconds} s of warm-up; Kafka broker, redis-server, the event source mapping ` +
    'emulator, the function (its deployed bundle under the Lambda Runtime Interface Emulator) and the producer all on this machine, plaintext.'
  );
}

/** Medians and 99th percentiles of one part of the way, in ms. */
export interface Share {
  p50: number;
  p99: number;
}

export interface LatencyPoint {
  offeredPerSecond: number;
  /** The rate the producer reached (below the offered one when it cannot keep up). */
  sentPerSecond: number;
  /** Events measured (published after the warm-up). */
  events: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Consumer lag: the most seen, and its growth over the second half, records/s. */
  maxLag: number;
  lagGrowthPerSecond: number;
  /** ms from the last send to every partition committed. */
  drainMs: number;
  invocations: number;
  recordsPerInvocation: number;
  saturated: boolean;
  /** Every partition was committed to its end within a minute of the last send. */
  drained: boolean;
  /** Redis holds exactly the effect of every event, once (checked once drained). */
  correct: boolean;
  /** Where the time went, per event. */
  produce: Share;
  waitForInvocation: Share;
  invocationToVisible: Share;
  cpu: CpuShares;
  /** Produce-to-readable (bench/produce-to-readable.ts), when the point was asked to measure it. */
  readable?: ReadableFigures;
}

/** What a point measures besides produce-to-visible. */
export interface PointOptions {
  /** Wait for each send's position with a reader (produce-to-readable). */
  readable?: boolean;
}

interface Services {
  bootstrap: string;
  redisUrl: string;
  redis: RedisClient;
  /** The broker JVM, to count its CPU; absent for a broker of KAFKA_BROKERS. */
  brokerPid?: number | undefined;
}

/** CPU ms each process spent per 1,000 events published (user + system, from /proc). */
export interface CpuShares {
  producerAndEmulator: number;
  handler: number;
  redis: number;
  broker: number;
}

/** CPU seconds a process has used so far (Linux /proc; NaN elsewhere or when it is gone). */
async function cpuSecondsOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/** USER_HZ, the unit of /proc/<pid>/stat's times: 100 on Linux's common builds. */
const clockTicksPerSecond = 100;

/** The slope of a least-squares line through (t seconds, value) points. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((s, [t]) => s + t, 0) / n;
  const mv = points.reduce((s, [, v]) => s + v, 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of points) {
    num += (t - mt) * (v - mv);
    den += (t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const share = (values: number[]): Share => ({
  p50: percentile(values, 50),
  p99: percentile(values, 99),
});

type PointSettings = Omit<LatencyCurveSettings, 'rates' | 'stopWhenSaturated'>;

/** One point of the curve: its own topic, group, key prefix and handler process. */
export async function measureLatencyPoint(
  services: Services,
  rate: number,
  settings: PointSettings,
  options: PointOptions = {},
): Promise<LatencyPoint> {
  const point = await setUpPoint(services, rate, settings, options);
  try {
    await point.pipeline.warmUp();
    await point.pipeline.mapping.ready;
    const cpuOf = await cpuMeter(services, point.pipeline);
    const cpuBefore = await cpuOf();
    const sending = await publishAtRate(point, settings);
    const drain = await waitForDrain(point, sending.lagSamples);
    const cpuAfter = await cpuOf();
    const drained = lagOf(point) === 0;
    const latencies = await readLatencies(services.redis, point, sending.measuredFrom);
    const readable = await point.readable?.settle(sending.measuredFrom);
    const verdict = await checkAgainstModel(services.redis, point.model, {
      shard: pointShard,
      stateName: demoStateName,
      keyPrefix: point.prefix,
    });
    return reportPoint(point, {
      sending,
      drain,
      drained,
      latencies,
      exact: verdict.ok,
      cpuBefore,
      cpuAfter,
      readable,
    });
  } finally {
    await tearDownPoint(services, point);
  }
}

/** A point's run: its topic, traffic, pipeline and producer, and what it saw of each record. */
interface PointRun {
  rate: number;
  topic: string;
  /** The key prefix of the run's handler, so its keys are its own. */
  prefix: string;
  traffic: TrafficSettings;
  model: Awaited<ReturnType<typeof modelOf>>;
  pipeline: ReturnType<typeof startPipeline>;
  producer: ReturnType<typeof createProducer>;
  /** When the invocation carrying each record started, by `<tp>@<offset>`. */
  invokedAt: Map<string, number>;
  /** When the broker acknowledged each record, by `<tp>@<offset>`. */
  ackedAt: Map<string, number>;
  /** The next offset of each partition as produced so far, by `<tp>`. */
  produced: Map<string, bigint>;
  /** The waits for each send's position, when the point measures produce-to-readable. */
  readable: ReadableWaits | undefined;
}

/** The point's topic, its traffic and model, the pipeline (handler process) and a producer. */
async function setUpPoint(
  services: Services,
  rate: number,
  settings: PointSettings,
  options: PointOptions,
): Promise<PointRun> {
  const run = randomBytes(3).toString('hex');
  const topic = `seqguard-latency-${rate}-${run}`;
  const prefix = `lat${run}`;
  const connection = { clientId: 'seqguard-latency', bootstrapBrokers: [services.bootstrap] };
  const admin = createAdmin(connection);
  try {
    await admin.createTopics({ topics: [topic], partitions: settings.partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
  const totalSeconds = settings.warmUpSeconds + settings.seconds;
  const traffic: TrafficSettings = {
    events: Math.round(rate * totalSeconds),
    players: 1_000,
    rate,
    duplicateRate: 0,
    gapRate: 0,
    malformedRate: 0,
  };
  const model = await modelOf(traffic);

  const invokedAt = new Map<string, number>();
  const pipeline = startPipeline({
    bootstrap: services.bootstrap,
    function: {
      env: {
        REDIS_URL: services.redisUrl,
        SEQGUARD_FORMAT: 'mapped',
        SEQGUARD_KEY_PREFIX: prefix,
        SEQGUARD_DEFAULT_SHARD: pointShard,
      },
      onInvoke: (_sandbox, _invocation, event) => {
        const now = Date.now();
        for (const [tp, records] of Object.entries(event.records)) {
          for (const r of records) invokedAt.set(`${tp}@${r.offset}`, now);
        }
      },
    },
    mapping: {
      topics: [topic],
      groupId: `seqguard-latency-${run}`,
      batchSize: settings.batchSize,
      batchWindowMs: 0,
    },
  });
  const producer = createProducer(connection);
  const readable = options.readable
    ? new ReadableWaits(services.redis, {
        topic,
        keyPrefix: prefix,
        shard: pointShard,
        timeoutMs: 10_000,
      })
    : undefined;
  return {
    rate,
    topic,
    prefix,
    traffic,
    model,
    pipeline,
    producer,
    invokedAt,
    ackedAt: new Map(),
    produced: new Map(),
    readable,
  };
}

/** The records produced that the mapping has not committed yet. */
function lagOf(point: PointRun): number {
  let lag = 0n;
  for (const [id, end] of point.produced)
    lag += end - (point.pipeline.mapping.committed.get(id) ?? 0n);
  return Number(lag);
}

/** CPU seconds each process has used so far. */
type CpuSeconds = Record<keyof CpuShares, number>;

/** Reads the CPU seconds each process of the point has used so far. */
async function cpuMeter(
  services: Services,
  pipeline: PointRun['pipeline'],
): Promise<() => Promise<CpuSeconds>> {
  const redisPid = Number(
    /process_id:(\d+)/.exec(await services.redis.info('server'))?.[1] ?? Number.NaN,
  );
  const pids = {
    producerAndEmulator: process.pid,
    handler: pipeline.sandbox.pid,
    redis: Number.isFinite(redisPid) ? redisPid : undefined,
    broker: services.brokerPid,
  };
  return async () => ({
    producerAndEmulator: await cpuSecondsOf(pids.producerAndEmulator),
    handler: await cpuSecondsOf(pids.handler),
    redis: await cpuSecondsOf(pids.redis),
    broker: await cpuSecondsOf(pids.broker),
  });
}

interface Sending {
  /** The consumer lag every 100 ms while sending: (seconds since the start, records). */
  lagSamples: [number, number][];
  /** Date.now() once the warm-up's events were sent: events stamped from then on are measured. */
  measuredFrom: number;
  sendSeconds: number;
}

/**
 * Paced, not bursty: event i is due at i / rate, stamped with that time, and sent with the
 * others due within the producer's linger (so the linger counts in the latency).
 */
async function publishAtRate(point: PointRun, settings: PointSettings): Promise<Sending> {
  const { rate, traffic, topic } = point;
  const lagSamples: [number, number][] = [];
  const started = performance.now();
  const sampler = setInterval(() => {
    lagSamples.push([(performance.now() - started) / 1000, lagOf(point)]);
  }, 100);

  const events: OutgoingEvent[] = [];
  const source = bursts(traffic)[Symbol.asyncIterator]();
  const startedAt = Date.now();
  let sent = 0;
  let measuredFrom = 0;
  try {
    while (sent < traffic.events) {
      const elapsed = (performance.now() - started) / 1000;
      const due = Math.min(traffic.events, Math.floor(rate * elapsed)) - sent;
      if (due <= 0) {
        await sleep(settings.lingerMs);
        continue;
      }
      while (events.length < due) {
        const next = await source.next();
        if (next.done) break;
        events.push(...next.value);
      }
      const batch = events
        .splice(0, due)
        .map((e, i) => ({ ...e, timestamp: Math.floor(startedAt + ((sent + i) / rate) * 1000) }));
      const written = await publishEvents(point.producer, topic, batch);
      const acked = Date.now();
      // Not awaited: the producer keeps its pace.
      point.readable?.track(
        batch.map((e) => e.timestamp),
        written,
      );
      for (const w of written) {
        const id = topicPartition({ topic, partition: w.partition });
        point.ackedAt.set(`${id}@${w.offset}`, acked);
        if ((point.produced.get(id) ?? 0n) < w.offset + 1n) point.produced.set(id, w.offset + 1n);
      }
      if (
        sent < rate * settings.warmUpSeconds &&
        sent + batch.length >= rate * settings.warmUpSeconds
      )
        measuredFrom = Date.now();
      sent += batch.length;
    }
    return { lagSamples, measuredFrom, sendSeconds: (performance.now() - started) / 1000 };
  } finally {
    clearInterval(sampler);
  }
}

/** Waits up to a minute for every partition to be committed to its end. */
async function waitForDrain(
  point: PointRun,
  lagSamples: [number, number][],
): Promise<{ maxLag: number; drainMs: number }> {
  const sendEnded = performance.now();
  const drainDeadline = Date.now() + 60_000;
  let maxLag = Math.max(0, ...lagSamples.map(([, lag]) => lag));
  while (lagOf(point) > 0 && Date.now() < drainDeadline) {
    maxLag = Math.max(maxLag, lagOf(point));
    await sleep(5);
  }
  return { maxLag, drainMs: performance.now() - sendEnded };
}

/** Per measured event, in ms: produce to visible, and the three parts of the way. */
interface Latencies {
  latencies: number[];
  producing: number[];
  waiting: number[];
  invoking: number[];
}

/** Each measured event's latency, from its stream entry: Redis' clock minus its timestamp. */
async function readLatencies(
  redis: RedisClient,
  point: PointRun,
  measuredFrom: number,
): Promise<Latencies> {
  const measured: Latencies = { latencies: [], producing: [], waiting: [], invoking: [] };
  const stream = shardKeys(pointShard, point.prefix).stream;
  let from = '-';
  for (;;) {
    const page = await redis.xrange(stream, from, '+', 'COUNT', 5_000);
    for (const [id, fields] of page) {
      const entry = decodeStreamEntry(fields);
      const ts = Number(entry.ts);
      if (ts < measuredFrom) continue;
      const visible = Number(id.split('-')[0]);
      measured.latencies.push(visible - ts);
      const key = `${entry.tp}@${entry.offset}`;
      const acked = point.ackedAt.get(key);
      const invoked = point.invokedAt.get(key);
      if (acked !== undefined && invoked !== undefined) {
        measured.producing.push(acked - ts);
        measured.waiting.push(invoked - acked);
        measured.invoking.push(visible - invoked);
      }
    }
    if (page.length < 5_000) break;
    from = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
  return measured;
}

/** The point as the curve's tables and page show it. */
function reportPoint(
  point: PointRun,
  measured: {
    sending: Sending;
    drain: { maxLag: number; drainMs: number };
    drained: boolean;
    latencies: Latencies;
    exact: boolean;
    cpuBefore: CpuSeconds;
    cpuAfter: CpuSeconds;
    readable: ReadableFigures | undefined;
  },
): LatencyPoint {
  const { rate, traffic } = point;
  const { sending, drained, cpuBefore, cpuAfter } = measured;
  const { latencies, producing, waiting, invoking } = measured.latencies;
  const perThousand = (key: keyof CpuShares) =>
    ((cpuAfter[key] - cpuBefore[key]) * 1e6) / traffic.events;
  const secondHalf = sending.lagSamples.filter(([t]) => t >= sending.sendSeconds / 2);
  const lagGrowthPerSecond = slope(secondHalf);
  const sentPerSecond = traffic.events / sending.sendSeconds;
  const stats = point.pipeline.mapping.stats;
  return {
    offeredPerSecond: rate,
    sentPerSecond,
    events: latencies.length,
    p50Ms: percentile(latencies, 50),
    p90Ms: percentile(latencies, 90),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length
      ? latencies.reduce((most, l) => Math.max(most, l), Number.NEGATIVE_INFINITY)
      : Number.NaN,
    maxLag: measured.drain.maxLag,
    lagGrowthPerSecond,
    drainMs: measured.drain.drainMs,
    invocations: stats.invocations,
    recordsPerInvocation: stats.recordsDelivered / Math.max(1, stats.invocations),
    saturated: !drained || lagGrowthPerSecond > 0.05 * rate || sentPerSecond < 0.95 * rate,
    drained,
    correct: drained && measured.exact,
    produce: share(producing),
    waitForInvocation: share(waiting),
    invocationToVisible: share(invoking),
    cpu: {
      producerAndEmulator: perThousand('producerAndEmulator'),
      handler: perThousand('handler'),
      redis: perThousand('redis'),
      broker: perThousand('broker'),
    },
    ...(measured.readable ? { readable: measured.readable } : {}),
  };
}

/** Stops the point's producer and pipeline, and removes its keys. */
async function tearDownPoint(services: Services, point: PointRun): Promise<void> {
  point.readable?.close();
  await point.producer.close().catch(() => {});
  await point.pipeline.stop();
  await services.redis
    .eval(
      "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) end",
      0,
      `*${point.prefix}*`,
    )
    .catch(() => {});
}

const warmUpRate = 2_000;

/** The curve: one point per rate, lowest first, up to the first saturated one. */
export async function measureLatencyCurve(
  services: Services,
  settings: LatencyCurveSettings,
  onPoint: (point: LatencyPoint) => void = () => {},
): Promise<LatencyPoint[]> {
  // A run first that is not measured: the broker's JIT compiles its hot paths in the first
  // seconds of traffic, which would weigh on whichever point came first.
  await measureLatencyPoint(services, warmUpRate, { ...settings, seconds: settings.warmUpSeconds });
  const points: LatencyPoint[] = [];
  for (const rate of settings.rates) {
    const point = await measureLatencyPoint(services, rate, settings);
    points.push(point);
    onPoint(point);
    if (point.saturated && settings.stopWhenSaturated) break;
  }
  return points;
}

/** Whether the pipeline kept up, and if not whether the pipeline or the producer fell behind. */
export function keepsUp(p: LatencyPoint): string {
  if (!p.saturated) return 'yes';
  if (p.sentPerSecond < 0.95 * p.offeredPerSecond)
    return `no: the producer sent ${fixed(p.sentPerSecond)}/s`;
  return `no: lag +${fixed(p.lagGrowthPerSecond)}/s`;
}

/** The curve as a table of bench/results.md. */
export function latencyTable(points: LatencyPoint[]): string {
  const ms = (n: number) => fixed(n);
  const pair = (s: Share) => `${ms(s.p50)} / ${ms(s.p99)}`;
  return markdownTable(
    [
      'offered events/s',
      'sent events/s',
      'events measured',
      'p50 / p99 produce-to-visible',
      'max',
      'max consumer lag',
      'records per invocation',
      'linger + produce (p50 / p99)',
      'wait for invocation',
      'invocation to visible',
      'CPU ms per 1,000 events: producer + emulator / handler / Redis / broker',
      'keeps up',
      'exact',
    ],
    points.map((p) => [
      fixed(p.offeredPerSecond),
      fixed(p.sentPerSecond),
      fixed(p.events),
      `${ms(p.p50Ms)} / ${ms(p.p99Ms)} ms`,
      `${ms(p.maxMs)} ms`,
      fixed(p.maxLag),
      fixed(p.recordsPerInvocation, 1),
      `${pair(p.produce)} ms`,
      `${pair(p.waitForInvocation)} ms`,
      `${pair(p.invocationToVisible)} ms`,
      [p.cpu.producerAndEmulator, p.cpu.handler, p.cpu.redis, p.cpu.broker]
        .map((v) => fixed(v))
        .join(' / '),
      keepsUp(p),
      p.drained ? (p.correct ? 'yes' : 'NO') : 'not drained',
    ]),
  );
}

/** A point that measured produce-to-readable, its figures beside produce-to-visible's. */
export function readableTable(p: LatencyPoint): string {
  const r = p.readable;
  const pair = (p50: number | undefined, p99: number | undefined) =>
    `${fixed(p50 ?? Number.NaN)} / ${fixed(p99 ?? Number.NaN)} ms`;
  return markdownTable(
    [
      'offered events/s',
      'sent events/s',
      'events measured',
      'sends waited for',
      'p50 / p99 produce-to-visible',
      'p50 / p99 produce-to-readable',
      'max',
      'send acknowledged to readable (p50 / p99)',
      'waits failed',
      'keeps up',
      'exact',
    ],
    [
      [
        fixed(p.offeredPerSecond),
        fixed(p.sentPerSecond),
        fixed(r?.events ?? 0),
        fixed(r?.waits ?? 0),
        pair(p.p50Ms, p.p99Ms),
        pair(r?.p50Ms, r?.p99Ms),
        `${fixed(r?.maxMs ?? Number.NaN)} ms`,
        pair(r?.afterAckP50Ms, r?.afterAckP99Ms),
        r === undefined
          ? 'not measured'
          : `${fixed(r.failed)}${r.firstFailure ? ` (${r.firstFailure})` : ''}`,
        keepsUp(p),
        p.drained ? (p.correct ? 'yes' : 'NO') : 'not drained',
      ],
    ],
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rates: { type: 'string' },
      seconds: { type: 'string' },
      'batch-size': { type: 'string' },
      linger: { type: 'string' },
      quick: { type: 'boolean', default: false },
      html: { type: 'string' },
    },
  });
  const base = values.quick ? quickCurve : defaultCurve;
  const settings: LatencyCurveSettings = {
    ...base,
    ...(values.rates ? { rates: values.rates.split(',').map(Number) } : {}),
    ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
    ...(values['batch-size'] ? { batchSize: Number(values['batch-size']) } : {}),
    ...(values.linger ? { lingerMs: Number(values.linger) } : {}),
  };
  const server = process.env.REDIS_URL ? undefined : await startRedisServer();
  const redisUrl = process.env.REDIS_URL ?? (server?.url as string);
  const redis = createRedisClient({ url: redisUrl, cluster: false, commandTimeoutMs: 60_000 });
  const kafka = await startKafkaBroker();
  try {
    const points = await measureLatencyCurve(
      { bootstrap: kafka.bootstrap, redisUrl, redis, brokerPid: kafka.pid },
      settings,
      (p) => console.log(JSON.stringify(p)),
    );
    console.log(latencyTable(points));
    if (values.html) {
      await writeFile(
        values.html,
        buildLatencyPage({
          title: 'seqguard: latency against offered load, low-latency mode',
          run: `${cpus().length} cores, Node ${process.version}; ${new Date().toISOString()}`,
          setup: curveSetup(settings),
          points,
          references: latencyReferences,
        }),
      );
      console.log(`written to ${values.html}`);
    }
  } finally {
    redis.disconnect();
    await kafka.stop();
    await server?.dispose();
  }
}

if (import.meta.main) await main();
