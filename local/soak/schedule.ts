/**
 * The soak's fault schedule, drawn from a seed: the same seed, topology and settings give the
 * same faults at the same points of the traffic, so a failing run can be run again as it was.
 * Pure: no I/O, no clock. Points are counted in events published, not in seconds, so a slow
 * machine shifts the faults in time but not against the traffic.
 */
import { randomInt, seededRandom } from '../scenario/seeded-random.ts';

/** Every kind of fault the soak makes, and what the report calls it. */
export const faultKinds = {
  sinkKill: 'sink SIGKILLed',
  producerKill: 'producer SIGKILLed mid-send, restarted',
  redisRestartAof: 'redis-server killed, restarted with its data (AOF)',
  redisRestartEmpty: 'redis-server killed, restarted empty',
  redisRollback: 'redis-server rolled back to an earlier snapshot',
  redisFreeze: 'redis-server frozen past the command timeout',
  brokerRestart: 'Kafka broker killed, restarted on its ports and data',
  redeliveryStorm: 'redelivery storm (a second mapping from the earliest offset)',
  networkLatency: 'latency between the sink and Redis',
  connectionDrop: 'connections between the sink and Redis dropped',
  clusterFailover: 'primary killed, its replica promoted',
  slotMigration: "the busy shard's slot migrated to another primary",
  maxmemory: 'maxmemory reached (writes refused), then relieved',
} as const;

export type FaultKind = keyof typeof faultKinds;

/** The sink's Redis command timeout in the soak (SEQGUARD_REDIS_TIMEOUT_MS): a freeze outlasts it. */
export const sinkCommandTimeoutMs = 2_000;
/** The soak cluster's node timeout (cluster-node-timeout): a freeze stays short of it. */
export const clusterNodeTimeoutMs = 5_000;

/** Faults that lose writes Redis already acknowledged: the ledger and check-drift repair them. */
export const losesAcknowledgedWrites: ReadonlySet<FaultKind> = new Set([
  'redisRestartEmpty',
  'redisRollback',
]);

/** Faults on Redis itself, counted together in the summary. */
export const redisFaults: ReadonlySet<FaultKind> = new Set([
  'redisRestartAof',
  'redisRestartEmpty',
  'redisRollback',
  'redisFreeze',
  'clusterFailover',
  'slotMigration',
  'maxmemory',
]);

/**
 * Where in an invocation a sink kill lands: at a random moment of it, while a large request (the
 * guard's EVALSHA) from the sink to Redis is in flight, or once the function has logged its
 * batch applied, between the guard and the commit.
 */
export type KillPoint = 'midInvocation' | 'inGuardCall' | 'afterGuard';

export type Topology = 'single' | 'cluster';

export interface ScheduledFault {
  kind: FaultKind;
  /** Fires once this many events (unique) have been published. */
  at: number;
  /** How long the fault lasts (freeze, latency, maxmemory, storm), in ms. */
  durationMs?: number;
  /** Sink kills: where in the invocation. */
  point?: KillPoint;
  /** Rollbacks: the snapshot is taken once this many events were published. */
  snapshotAt?: number;
  /** Latency: added each way, in ms. */
  latencyMs?: number;
}

export type FaultCounts = Partial<Record<FaultKind, number>>;

/** The faults of each topology: the cluster has no proxy in the sink's path (see tcp-proxy.ts). */
export function kindsOf(topology: Topology): FaultKind[] {
  const all = Object.keys(faultKinds) as FaultKind[];
  return topology === 'single'
    ? all.filter((k) => !['clusterFailover', 'slotMigration'].includes(k))
    : all.filter((k) => !['networkLatency', 'connectionDrop'].includes(k));
}

/** The counts of a full run: what issue 13 asks for, with room for kills that miss a batch. */
export function fullCounts(topology: Topology): FaultCounts {
  const counts: FaultCounts = {
    sinkKill: 60,
    producerKill: 3,
    redisRestartAof: 1,
    redisRestartEmpty: 1,
    redisRollback: 1,
    redisFreeze: 2,
    brokerRestart: 3,
    redeliveryStorm: 1,
    networkLatency: 2,
    connectionDrop: 3,
    clusterFailover: 1,
    slotMigration: 1,
    maxmemory: 1,
  };
  return Object.fromEntries(kindsOf(topology).map((k) => [k, counts[k] ?? 0]));
}

/** The counts of a quick run: every kind of the topology once, a sink kill at each point. */
export function quickCounts(topology: Topology): FaultCounts {
  return Object.fromEntries(
    kindsOf(topology).map((k) => [k, k === 'sinkKill' ? killPoints(topology).length : 1]),
  );
}

export function killPoints(topology: Topology): KillPoint[] {
  return topology === 'single'
    ? ['midInvocation', 'inGuardCall', 'afterGuard']
    : ['midInvocation', 'afterGuard'];
}

export interface ScheduleOptions {
  seed: number;
  /** Unique events the run publishes. */
  events: number;
  topology: Topology;
  counts: FaultCounts;
  /** Shorter faults for a quick run. */
  quick?: boolean;
}

/** Faults that take servers down or change them: the soak runs them one after another. */
export const serialKinds: ReadonlySet<FaultKind> = new Set([
  'redisRestartAof',
  'redisRestartEmpty',
  'redisRollback',
  'redisFreeze',
  'brokerRestart',
  'clusterFailover',
  'slotMigration',
  'maxmemory',
  'networkLatency',
]);

/**
 * The schedule: every fault at a point between 5 % and 85 % of the events (the rest is left for
 * the pipeline to settle on faults' effects before the end), sorted by that point. The serial
 * faults are spread over the run in turns, so that one never waits long behind another; kills
 * and drops fall anywhere.
 */
export function faultSchedule(options: ScheduleOptions): ScheduledFault[] {
  const random = seededRandom(options.seed);
  const { events, topology, quick = false } = options;
  const first = Math.floor(events * 0.05);
  const last = Math.floor(events * 0.85);
  const points = killPoints(topology);
  const faults: ScheduledFault[] = [];

  const serial = kindsOf(topology).flatMap((kind) =>
    serialKinds.has(kind) ? Array.from({ length: options.counts[kind] ?? 0 }, () => kind) : [],
  );
  // Serial faults in a shuffled order, each in a slot of its own.
  for (let i = serial.length - 1; i > 0; i--) {
    const j = randomInt(random, 0, i);
    [serial[i], serial[j]] = [serial[j] as FaultKind, serial[i] as FaultKind];
  }
  const slot = (last - first) / Math.max(1, serial.length);
  serial.forEach((kind, i) => {
    const slotStart = Math.floor(first + slot * i);
    const at = Math.floor(first + slot * (i + 0.2 + 0.6 * random()));
    faults.push(detailsOf(kind, at, random, quick, slotStart));
  });

  for (const kind of kindsOf(topology)) {
    if (serialKinds.has(kind)) continue;
    const count = options.counts[kind] ?? 0;
    for (let i = 0; i < count; i++) {
      const at = randomInt(random, first, last);
      const fault = detailsOf(kind, at, random, quick, first);
      if (kind === 'sinkKill') fault.point = points[i % points.length] as KillPoint;
      faults.push(fault);
    }
  }
  return faults.sort((a, b) => a.at - b.at || a.kind.localeCompare(b.kind));
}

function detailsOf(
  kind: FaultKind,
  at: number,
  random: () => number,
  quick: boolean,
  /** Where the fault's own slot starts: a rollback's snapshot is taken in it. */
  slotStart: number,
): ScheduledFault {
  const scale = quick ? 0.5 : 1;
  switch (kind) {
    case 'redisFreeze':
      // Past the sink's command timeout, short of a cluster's node timeout, which would fail the
      // node over.
      return {
        kind,
        at,
        durationMs: Math.round(
          sinkCommandTimeoutMs +
            500 +
            random() * (clusterNodeTimeoutMs - sinkCommandTimeoutMs - 1_000),
        ),
      };
    case 'redisRollback':
      // The snapshot is taken some way before the rollback, in the rollback's own slot (no
      // other server fault in between): what came in between is lost.
      return {
        kind,
        at,
        snapshotAt: Math.min(at - 1, slotStart + Math.floor((at - slotStart) * 0.3 * random())),
      };
    case 'networkLatency':
      return {
        kind,
        at,
        durationMs: Math.round((5_000 + random() * 10_000) * scale),
        latencyMs: randomInt(random, 20, 200),
      };
    case 'maxmemory':
      return { kind, at, durationMs: Math.round((4_000 + random() * 4_000) * scale) };
    case 'redeliveryStorm':
      return { kind, at, durationMs: Math.round((10_000 + random() * 10_000) * scale) };
    default:
      return { kind, at };
  }
}

/** How many faults of each kind a schedule holds. */
export function countByKind(faults: readonly ScheduledFault[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of faults) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
  return counts;
}
