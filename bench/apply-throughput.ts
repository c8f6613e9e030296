/**
 * Apply throughput of the designs on one local redis-server, with the same events: the seed
 * article's (a Lua check-and-set of the cursor, then separate ZINCRBY and XADD calls per event),
 * Powertools' idempotency utility (bench/powertools-idempotency.ts), seqguard's
 * guarded batch, and the same batch with the guard taken out (the ceiling for these writes).
 * When the server has a replica, seqguard's batch also runs with each chunk waiting for it
 * (SEQGUARD_REDIS_WAIT_REPLICAS=1), so the cost of WAIT shows as a ratio in the same run.
 * Every design is checked: the final leaderboard must equal the sums of the events, and for the
 * idempotent designs a second pass of the same events must change nothing.
 */
import { fileURLToPath } from 'node:url';
import {
  applyBatchArguments,
  applyChunk,
  chunk,
  defaultMutations,
  emptyShardModel,
  type GuardedEvent,
  type GuardOptions,
  guardEvent,
  parseScore,
  type RedisClient,
  shardKeys,
  stateKey,
} from '../core/index.ts';

import { resolveIncludes } from '../lua/resolve-includes.ts';
import { type EventWork, medianWork, workPerEvent } from './cost.ts';
import { collectGarbage, percentile, redisCpuSeconds, redisWork } from './lib.ts';
import { powertoolsDesign, powertoolsDesignName } from './powertools-idempotency.ts';

export interface ApplyMeasurement {
  design: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  redisCpuSecondsPerMillion: number;
  /** Requests, script time and bytes per event: what ElastiCache Serverless bills. */
  work: EventWork;
  callP50Ms: number;
  callP99Ms: number;
  /** What one measured call is. */
  call: string;
  correct: boolean;
  idempotent: boolean | 'not claimed';
}

export const shard = 'bench';
/** The guard's options in every apply measurement. */
export const benchOptions: GuardOptions = {
  firstSeq: '1',
  streamMaxLen: 10_000_000,
  streamMaxAgeMs: 0,
  keyPrefix: 'sg',
};
const board = stateKey(shard, 'leaderboard', 'sg');
const stream = shardKeys(shard, 'sg').stream;

/** 16 scopes, seqs in order per scope, 10,000 players, deltas 1..5. */
export function benchEvents(count: number, scopes = 16, players = 10_000): GuardedEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    shard,
    sequence: { scope: `scope-${i % scopes}`, seq: String(Math.floor(i / scopes) + 1) },
    mutation: {
      op: 'zincrby',
      keys: ['leaderboard'],
      args: [`player-${(i * 7919) % players}`, String((i % 5) + 1)],
    },
    record: {
      topic: 'bench',
      partition: i % scopes,
      offset: String(Math.floor(i / scopes)),
      timestamp: 1_700_000_000_000,
    },
  }));
}

/** The leaderboard the events must make: the guard's model, fed each event once. */
function expectedBoard(events: GuardedEvent[]): Map<string, number> {
  const model = emptyShardModel();
  for (const event of events) guardEvent(model, event, BigInt(benchOptions.firstSeq));
  const board = model.state.get('leaderboard');
  return new Map(
    board?.type === 'zset' ? [...board.members].map(([member, { score }]) => [member, score]) : [],
  );
}

async function boardMatches(redis: RedisClient, expected: Map<string, number>): Promise<boolean> {
  const flat = await redis.zrange(board, '0', '-1', 'WITHSCORES');
  if (flat.length / 2 !== expected.size) return false;
  for (let i = 0; i < flat.length; i += 2) {
    if (parseScore(flat[i + 1] as string) !== expected.get(flat[i] as string)) return false;
  }
  return true;
}

/** The seed article's Lua, with its undefined `sequence` fixed and a cursor per scope. */
const seedCheckAndSet = `
local cursor = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > cursor then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[1] .. ':' .. ARGV[2])
  return 1
end
return 0`;

export type Design = (redis: RedisClient, events: GuardedEvent[], calls: number[]) => Promise<void>;

export const timed = async <T>(calls: number[], work: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const result = await work();
  calls.push(performance.now() - started);
  return result;
};

const seedDesign: Design = async (redis, events, calls) => {
  for (const e of events) {
    const scope = e.sequence?.scope as string;
    const fresh = await timed(calls, () =>
      redis.eval(
        seedCheckAndSet,
        2,
        'seed:cursors',
        'seed:ack_log',
        scope,
        e.sequence?.seq as string,
      ),
    );
    if (fresh !== 1) continue;
    const [member = '', delta = ''] = e.mutation.args;
    await timed(calls, () => redis.zincrby(board, delta, member));
    await timed(calls, () => redis.xadd(stream, '*', 'player', member, 'delta', delta));
  }
};

const seqguardDesign: Design = async (redis, events, calls) => {
  for (const part of chunk(events, 500))
    await timed(calls, () => applyChunk(redis, shard, part, benchOptions));
};

/** Each chunk waits for one replica's acknowledgement, as SEQGUARD_REDIS_WAIT_REPLICAS=1 does. */
const seqguardWaitDesign: Design = async (redis, events, calls) => {
  const waiting = { ...benchOptions, replicaWait: { replicas: 1, timeoutMs: 10_000 } };
  for (const part of chunk(events, 500))
    await timed(calls, () => applyChunk(redis, shard, part, waiting));
};

/** The name of the guarded batch that waits for a replica, in the table. */
export const waitDesignName = 'seqguard guarded batch + WAIT 1';

/** One chunk of one shard's events through a design, in one call. */
export type ChunkApply = (
  redis: RedisClient,
  shard: string,
  part: readonly GuardedEvent[],
) => Promise<unknown>;

/**
 * The ceiling: bench/unguarded-batch.lua with the built-in mutations put in by the registry, as
 * they are in the guard, called exactly as applyChunk calls the guard (the same arguments, built
 * by the same code, by EVALSHA), so that the difference is the guard alone.
 */
export async function unguardedChunk(redis: RedisClient, totals: boolean): Promise<ChunkApply> {
  const lua = defaultMutations.withMutations(
    await resolveIncludes(fileURLToPath(new URL('./unguarded-batch.lua', import.meta.url))),
  );
  const sha = (await redis.script('LOAD', lua)) as string;
  return (client, on, part) => {
    const { allKeys, argv } = applyBatchArguments(on, part, benchOptions, {});
    return client.evalsha(sha, allKeys.length, ...allKeys, ...argv, totals ? 'totals' : 'none');
  };
}

async function unguardedDesign(redis: RedisClient, totals: boolean): Promise<Design> {
  const apply = await unguardedChunk(redis, totals);
  return async (client, events, calls) => {
    for (const part of chunk(events, 500)) await timed(calls, () => apply(client, shard, part));
  };
}

async function measure(
  redis: RedisClient,
  name: string,
  call: string,
  design: Design,
  events: GuardedEvent[],
  idempotencyClaimed: boolean,
): Promise<ApplyMeasurement> {
  await redis.flushall();
  const expected = expectedBoard(events);
  const calls: number[] = [];
  collectGarbage();
  const cpuBefore = await redisCpuSeconds(redis);
  const workBefore = await redisWork(redis);
  const started = performance.now();
  await design(redis, events, calls);
  const seconds = (performance.now() - started) / 1000;
  const cpu = (await redisCpuSeconds(redis)) - cpuBefore;
  const work = workPerEvent(workBefore, await redisWork(redis), calls.length, events.length);
  const correct = await boardMatches(redis, expected);
  let idempotent: boolean | 'not claimed' = 'not claimed';
  if (idempotencyClaimed) {
    const streamBefore = await redis.xlen(stream);
    await design(redis, events, []);
    idempotent =
      (await boardMatches(redis, expected)) && (await redis.xlen(stream)) === streamBefore;
  }
  return {
    design: name,
    events: events.length,
    seconds,
    eventsPerSecond: events.length / seconds,
    redisCpuSecondsPerMillion: (cpu / events.length) * 1e6,
    work,
    callP50Ms: percentile(calls, 50),
    callP99Ms: percentile(calls, 99),
    call,
    correct,
    idempotent,
  };
}

/** The median of each numeric field, over repeated measurements of one design. */
function medianOf(runs: ApplyMeasurement[]): ApplyMeasurement {
  const median = (pick: (m: ApplyMeasurement) => number) => percentile(runs.map(pick), 50);
  const [first] = runs as [ApplyMeasurement];
  return {
    ...first,
    seconds: median((m) => m.seconds),
    eventsPerSecond: median((m) => m.eventsPerSecond),
    redisCpuSecondsPerMillion: median((m) => m.redisCpuSecondsPerMillion),
    work: medianWork(runs.map((m) => m.work)),
    callP50Ms: median((m) => m.callP50Ms),
    callP99Ms: median((m) => m.callP99Ms),
    correct: runs.every((m) => m.correct),
    idempotent:
      first.idempotent === 'not claimed' ? 'not claimed' : runs.every((m) => m.idempotent === true),
  };
}

/**
 * Every design, `rounds` times, in turns (design A, B, C, … then again), and the median of each:
 * on a shared 2-core machine the load moves, and taking turns spreads it over all designs. The
 * batch designs take a second or two a round and move by a few percent from round to round (the
 * server's replica shares the 2 cores), so they get many rounds; the per-event designs, whose
 * ratios to the batch are 30× and more, take part in the first `slowRounds` only.
 */
export async function measureApplyThroughput(
  redis: RedisClient,
  count: number,
  slowCount: number,
  rounds: number,
  /** Rounds of the per-event designs (seed, Powertools), the first ones: they take longest. */
  slowRounds: number,
  /** The server has a replica: measure the batch that waits for it too. */
  withReplica = false,
) {
  const events = benchEvents(count);
  // The per-event designs make 3 to 4 round trips an event: they get fewer events, and are
  // compared by rate, which does not depend on the count.
  const slow = benchEvents(slowCount);
  const designs: [string, string, Design, GuardedEvent[], boolean][] = [
    ["seed article's design", 'Redis call', seedDesign, slow, true],
    [powertoolsDesignName, 'Redis call', powertoolsDesign, slow, true],
    ['seqguard guarded batch', 'EVALSHA of 500', seqguardDesign, events, true],
    ...(withReplica
      ? [
          [waitDesignName, 'EVALSHA of 500 + WAIT 1', seqguardWaitDesign, events, true] as [
            string,
            string,
            Design,
            GuardedEvent[],
            boolean,
          ],
        ]
      : []),
    [
      'batch without guard (writes + totals)',
      'EVALSHA of 500',
      await unguardedDesign(redis, true),
      events,
      false,
    ],
    [
      'batch without guard (writes only)',
      'EVALSHA of 500',
      await unguardedDesign(redis, false),
      events,
      false,
    ],
  ];
  const runs = designs.map((): ApplyMeasurement[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, [name, call, design, input, idempotent]] of designs.entries()) {
      if (input === slow && round >= slowRounds) continue;
      runs[i]?.push(await measure(redis, name, call, design, input, idempotent));
    }
  }
  return runs.map(medianOf);
}
