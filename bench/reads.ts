/**
 * Position-bound reads (docs/reading.md) against the bare Redis commands: a member's rank, the
 * top 10 and the members around one, on one leaderboard of many members, a thousand of them per
 * score, so that the order of ties matters. Each read in three designs: the bare commands, as a
 * service would send them by hand; the reader without a bound (createReader); the reader with a
 * bound that Redis has reached (one real event applied through the guard, and its partition's
 * ledger advanced as the sink advances it).
 *
 * Reads are sequential, one awaited after the other, each of a member drawn at random (the same
 * members, in the same order, for the three designs). In each round the designs take turns, a
 * block of reads each, and which goes first rotates block by block, so that they meet the
 * machine's load of each moment alike; a design's rate is its reads over the time of its own
 * blocks. Before the clock starts, every design's answers are checked against each other, and
 * the round trips and commands of each read are counted in a pass of their own.
 */
import { randomBytes } from 'node:crypto';
import {
  createReader,
  createSinkPorts,
  defaultMutations,
  type GuardOptions,
  NotUpToBoundError,
  type Position,
  type RankedMember,
  type Reader,
  type RedisClient,
  stateKey,
  topicPartition,
} from '../core/index.ts';
import { collectGarbage, fixed, markdownTable, percentile } from './lib.ts';

const shard = 'bench-reads';
const name = 'leaderboard';
const topic = 'bench';
/** Members on each side of the one read around. */
export const aroundN = 5;
export const topN = 10;
/** Reads per turn: the designs take turns a block each. */
export const readBlock = 20;
/** Reads per design of the untimed warm-up round. */
const warmUpCalls = 2_000;
/** Members per ZADD while filling the leaderboard, and ZADDs per pipeline. */
const fillBatch = 10_000;
const fillPipeline = 10;
/** Distinct scores: with a million members, a thousand share each one. */
export const distinctScores = 1_000;
/** Members whose answers are compared across the designs, and reads per design counted. */
export const checkedMembers = 200;

export const readNames = ['rank', 'top 10', 'around'] as const;
export type ReadName = (typeof readNames)[number];
export const designNames = ['bare commands', 'reader', 'reader at a position'] as const;
export type DesignName = (typeof designNames)[number];

export interface ReadsOptions {
  /** Members of the leaderboard. */
  members: number;
  /** Reads per design, per read and per round. */
  calls: number;
  rounds: number;
}

/** What one design's reads cost Redis and the network, per read (counted untimed). */
export interface ReadCounts {
  /** Sends apart by a reply: how often the read waited for Redis before sending more. */
  roundTrips: number;
  /** Commands the client sent (MULTI and EXEC included). */
  commandsSent: number;
  /** Commands Redis ran (INFO commandstats), a script's own calls included. */
  commandsRun: number;
}

export interface DesignMeasurement extends ReadCounts {
  design: DesignName;
  /** The median over the rounds of the reads over the time of the design's own blocks. */
  readsPerSecond: number;
  /** Every read's latency, over all rounds. */
  p50Ms: number;
  p99Ms: number;
  /** The median of the rounds' own ratios, this design's rate / the bare commands' (1 for them). */
  ofBare: number;
  ratios: number[];
}

export interface ReadMeasurement {
  read: ReadName;
  designs: DesignMeasurement[];
}

export interface ReadsMeasurement extends ReadsOptions {
  reads: ReadMeasurement[];
  /** Every design gave the same answers, and a bound past what Redis holds was refused. */
  correct: boolean;
  /** What was not: a read through a design that answered otherwise than the bare commands. */
  wrong: string[];
}

/** A member's name and score: an integer from 1 to distinctScores, many members to each. */
export const memberName = (i: number) => `player-${i}`;
export const memberScore = (i: number) =>
  1 + ((Math.imul(i + 1, 2_654_435_761) >>> 0) % distinctScores);

/** `count` member indexes below `members`, drawn by a seeded PRNG (mulberry32): the same per seed. */
export function memberSequence(members: number, count: number, seed: number): number[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => Math.floor(next() * members));
}

/** The leaderboard's members, by ZADDs of fillBatch members, fillPipeline ZADDs a pipeline. */
async function fill(redis: RedisClient, key: string, members: number): Promise<void> {
  for (let from = 0; from < members; from += fillBatch * fillPipeline) {
    const pipeline = redis.pipeline();
    const end = Math.min(members, from + fillBatch * fillPipeline);
    for (let start = from; start < end; start += fillBatch) {
      const args: (string | number)[] = [];
      for (let i = start; i < Math.min(end, start + fillBatch); i++)
        args.push(memberScore(i), memberName(i));
      pipeline.zadd(key, ...args);
    }
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }
}

/**
 * One real event through the guard (member 0's score, at offset 0 of bench-0) and its
 * partition's ledger advanced over it, as the sink does: the position of that event is a bound
 * Redis has reached, for the leaderboard's shard.
 */
async function writeReachedBound(redis: RedisClient, guard: GuardOptions): Promise<Position> {
  const ports = createSinkPorts(redis, guard);
  const at = { topic, partition: 0, offset: 0n };
  const mutation = defaultMutations.mutation('zincrby', {
    key: name,
    member: memberName(0),
    delta: memberScore(0),
  });
  const [outcome] = await ports.applyChunk(shard, [
    {
      shard,
      sequence: { scope: 'bench-reads', seq: '1' },
      mutation,
      record: { topic, partition: 0, offset: String(at.offset), timestamp: Date.now() },
    },
  ]);
  const joined = await ports.ledger?.advance(topicPartition(at), {
    from: at.offset,
    to: at.offset,
    shards: new Map([[shard, at.offset]]),
    deadLettered: undefined,
  });
  if (outcome?.kind !== 'applied' || joined !== true)
    throw new Error(`the bench's event was not recorded (${outcome?.kind}, ledger ${joined})`);
  return [at];
}

type ReadCall = (member: string) => Promise<unknown>;

/** The around read by hand: the member's rank, then the range around it (two round trips). */
async function bareAround(redis: RedisClient, key: string, member: string): Promise<unknown> {
  const rank = await redis.zrevrank(key, member);
  if (rank === null) return [];
  const from = String(Math.max(0, rank - aroundN));
  return redis.zrange(key, from, String(rank + aroundN), 'REV', 'WITHSCORES');
}

/** Each read's three designs, in the order of designNames. */
function designsOf(
  redis: RedisClient,
  reader: Reader,
  key: string,
  position: Position,
): Record<ReadName, readonly ReadCall[]> {
  const at = { at: position };
  return {
    rank: [
      (m) => Promise.all([redis.zrevrank(key, m), redis.zscore(key, m)]),
      (m) => reader.rank(shard, name, m),
      (m) => reader.rank(shard, name, m, at),
    ],
    'top 10': [
      () => redis.zrange(key, '0', String(topN - 1), 'REV', 'WITHSCORES'),
      () => reader.top(shard, name, topN),
      () => reader.top(shard, name, topN, at),
    ],
    around: [
      (m) => bareAround(redis, key, m),
      (m) => reader.around(shard, name, m, aroundN),
      (m) => reader.around(shard, name, m, aroundN, at),
    ],
  };
}

type Answer = RankedMember | RankedMember[] | undefined;

/** A flat WITHSCORES reply as the reader's ranked members, the first at `firstRank`. */
export const rankedOf = (flat: string[], firstRank: number): RankedMember[] =>
  Array.from({ length: flat.length / 2 }, (_, i) => ({
    member: flat[2 * i] as string,
    score: Number(flat[2 * i + 1]),
    rank: firstRank + i,
  }));

/**
 * Where the reader, with and without the bound, answers otherwise than the bare commands, for
 * the members given and one that is not a member; and whether it refuses a bound one past what
 * Redis holds. Empty when all is as it should be.
 */
async function disagreements(
  redis: RedisClient,
  reader: Reader,
  key: string,
  position: Position,
  members: readonly string[],
): Promise<string[]> {
  const found = new Set<string>();
  // Compared as text, each member's fields in one order.
  const text = (answer: Answer) =>
    JSON.stringify([answer ?? []].flat().map((m) => [m.member, m.score, m.rank]));
  const check = (read: ReadName, design: DesignName, got: Answer, want: Answer) => {
    if (text(got) !== text(want)) found.add(`${read} through the ${design}`);
  };
  const top = rankedOf(await redis.zrange(key, '0', String(topN - 1), 'REV', 'WITHSCORES'), 0);
  for (const [design, opts] of [
    ['reader', {}],
    ['reader at a position', { at: position }],
  ] as const) {
    check('top 10', design, await reader.top(shard, name, topN, opts), top);
    for (const member of [...members, 'not-a-member']) {
      const [rank, score] = await Promise.all([
        redis.zrevrank(key, member),
        redis.zscore(key, member),
      ]);
      const want = rank === null ? undefined : { member, score: Number(score), rank };
      check('rank', design, await reader.rank(shard, name, member, opts), want);
      const from = Math.max(0, (rank ?? 0) - aroundN);
      const around =
        rank === null ? [] : rankedOf((await bareAround(redis, key, member)) as string[], from);
      check('around', design, await reader.around(shard, name, member, aroundN, opts), around);
    }
  }
  const past: Position = position.map((p) => ({ ...p, offset: p.offset + 1n }));
  const refused = await reader.rank(shard, name, members[0] as string, { at: past }).then(
    () => false,
    (error: unknown) => error instanceof NotUpToBoundError,
  );
  if (!refused) found.add('a bound past the event was not refused');
  return [...found];
}

/** Commands Redis has run, from INFO commandstats: all but INFO and the replicas' REPLCONF. */
async function commandsRun(redis: RedisClient): Promise<number> {
  let total = 0;
  for (const [, command, calls] of (await redis.info('commandstats')).matchAll(
    /^cmdstat_([^:]+):calls=(\d+)/gm,
  )) {
    if (command !== 'info' && command !== 'replconf') total += Number(calls);
  }
  return total;
}

/**
 * Counts what the client sends, by wrapping its sendCommand (every command, a pipeline's and a
 * script's included, goes through it): a send after a reply starts a new round trip. Returns
 * the function that takes the wrapper off.
 */
function countSends(redis: RedisClient, counts: { sent: number; trips: number }): () => void {
  type Send = (command: { promise: Promise<unknown> }, ...rest: unknown[]) => unknown;
  const client = redis as unknown as { sendCommand?: Send };
  const send = client.sendCommand as Send;
  let replied = true;
  const onReply = () => {
    replied = true;
  };
  client.sendCommand = function (this: unknown, command, ...rest) {
    counts.sent++;
    if (replied) counts.trips++;
    replied = false;
    command.promise.then(onReply, onReply);
    return send.call(this, command, ...rest);
  };
  return () => {
    delete client.sendCommand;
  };
}

/** A design's round trips and commands per read, over reads of `members`, one at a time. */
async function countRead(
  redis: RedisClient,
  call: ReadCall,
  members: readonly string[],
): Promise<ReadCounts> {
  const counts = { sent: 0, trips: 0 };
  const ranBefore = await commandsRun(redis);
  const unwrap = countSends(redis, counts);
  try {
    for (const member of members) await call(member);
  } finally {
    unwrap();
  }
  const ran = (await commandsRun(redis)) - ranBefore;
  const per = (n: number) => n / members.length;
  return { roundTrips: per(counts.trips), commandsSent: per(counts.sent), commandsRun: per(ran) };
}

/**
 * One round of one read: the designs take turns, a block of reads each, the first rotating
 * block by block. Returns each design's time over its own blocks and every read's latency.
 */
async function measureRound(
  calls: readonly ReadCall[],
  members: readonly string[],
): Promise<{ ms: number[]; latencies: number[][] }> {
  const ms = calls.map(() => 0);
  const latencies = calls.map((): number[] => []);
  for (let from = 0, turn = 0; from < members.length; from += readBlock, turn++) {
    const part = members.slice(from, from + readBlock);
    for (let k = 0; k < calls.length; k++) {
      const j = (turn + k) % calls.length;
      const call = calls[j] as ReadCall;
      const own = latencies[j] as number[];
      const began = performance.now();
      for (const member of part) {
        const sent = performance.now();
        await call(member);
        own.push(performance.now() - sent);
      }
      ms[j] = (ms[j] as number) + performance.now() - began;
    }
  }
  return { ms, latencies };
}

/**
 * Every read's designs, `rounds` times after an untimed one: each round every read in turn
 * (measureRound).
 */
async function timeReads(
  designs: Record<ReadName, readonly ReadCall[]>,
  options: ReadsOptions,
): Promise<{ rates: number[][][]; latencies: number[][][] }> {
  const rates = readNames.map(() => designNames.map((): number[] => []));
  const latencies = readNames.map(() => designNames.map((): number[] => []));
  // An untimed round first, shorter: the code of every design compiled before the clock starts.
  const warmUp = memberSequence(options.members, Math.min(options.calls, warmUpCalls), 0);
  for (const read of readNames) await measureRound(designs[read], warmUp.map(memberName));
  for (let round = 0; round < options.rounds; round++) {
    const members = memberSequence(options.members, options.calls, round + 1).map(memberName);
    for (const [r, read] of readNames.entries()) {
      collectGarbage();
      const measured = await measureRound(designs[read], members);
      measured.ms.forEach((ms, j) => {
        rates[r]?.[j]?.push(options.calls / (ms / 1000));
        const all = latencies[r]?.[j] as number[];
        for (const latency of measured.latencies[j] as number[]) all.push(latency);
      });
    }
  }
  return { rates, latencies };
}

/** One read's rows: the medians of its rounds, its latencies, its counts. */
function summarize(
  read: ReadName,
  rates: number[][],
  latencies: number[][],
  counts: ReadCounts[],
): ReadMeasurement {
  const bare = rates[0] as number[];
  return {
    read,
    designs: designNames.map((design, j) => {
      const own = rates[j] as number[];
      const ratios = own.map((rate, i) => rate / (bare[i] as number));
      return {
        design,
        readsPerSecond: percentile(own, 50),
        p50Ms: percentile(latencies[j] as number[], 50),
        p99Ms: percentile(latencies[j] as number[], 99),
        ofBare: percentile(ratios, 50),
        ratios,
        ...(counts[j] as ReadCounts),
      };
    }),
  };
}

/**
 * Fills a leaderboard of `members` members under a fresh key prefix, checks and counts each
 * read's designs, times them (timeReads), and deletes the keys it wrote.
 */
export async function measureReads(
  redis: RedisClient,
  options: ReadsOptions,
): Promise<ReadsMeasurement> {
  const keyPrefix = `reads${randomBytes(3).toString('hex')}`;
  const key = stateKey(shard, name, keyPrefix);
  const guard = { firstSeq: '1', streamMaxLen: 0, streamMaxAgeMs: 0, keyPrefix };
  const reader = createReader(redis, { keyPrefix, topics: [topic] });
  try {
    const position = await writeReachedBound(redis, guard);
    await fill(redis, key, options.members);
    const designs = designsOf(redis, reader, key, position);
    const checked = memberSequence(options.members, checkedMembers, 0).map(memberName);
    const wrong = await disagreements(redis, reader, key, position, checked);
    const counts: Record<string, ReadCounts[]> = {};
    for (const read of readNames) {
      counts[read] = [];
      for (const call of designs[read]) counts[read].push(await countRead(redis, call, checked));
    }
    const { rates, latencies } = await timeReads(designs, options);
    const reads = readNames.map((read, r) =>
      summarize(read, rates[r] as number[][], latencies[r] as number[][], counts[read] ?? []),
    );
    return { ...options, reads, correct: wrong.length === 0, wrong };
  } finally {
    reader.close();
    await deleteKeys(redis, keyPrefix);
  }
}

/** Every key under the bench's own prefix (the state, the shard's keys, the ledger). */
async function deleteKeys(redis: RedisClient, keyPrefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${keyPrefix}*`, 'COUNT', 1_000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** A reader design's lowest "of bare" over the reads, and the read it belongs to. */
export function lowestReaderRatio(
  measurement: ReadsMeasurement,
  design: Exclude<DesignName, 'bare commands'>,
): { read: ReadName; ratio: number } | undefined {
  let lowest: { read: ReadName; ratio: number } | undefined;
  for (const { read, designs } of measurement.reads) {
    const ratio = designs.find((d) => d.design === design)?.ofBare ?? Number.NaN;
    // A ratio not measured (NaN) counts as the lowest: it cannot meet a target.
    if (lowest === undefined || !(ratio >= lowest.ratio)) lowest = { read, ratio };
  }
  return lowest;
}

/** The round trips a bound adds to a read (reader at a position - reader), the most of the reads. */
export function boundExtraRoundTrips(measurement: ReadsMeasurement): number {
  const trips = (designs: DesignMeasurement[], design: DesignName) =>
    designs.find((d) => d.design === design)?.roundTrips ?? Number.NaN;
  return Math.max(
    ...measurement.reads.map(
      ({ designs }) => trips(designs, 'reader at a position') - trips(designs, 'reader'),
    ),
  );
}

const readLabel = (read: ReadName) =>
  read === 'around' ? `around (${aroundN} on each side)` : read;

/** One row per read and design: rate, latency, ratio to the bare commands, and counts. */
export function readsTable(measurement: ReadsMeasurement): string {
  const range = (ratios: number[]) =>
    ratios.length > 1
      ? ` (${fixed(Math.min(...ratios), 2)} to ${fixed(Math.max(...ratios), 2)})`
      : '';
  const count = (n: number) => fixed(n, Number.isInteger(n) ? 0 : 2);
  return markdownTable(
    [
      'read',
      'design',
      'reads/s',
      'p50 / p99 per read',
      'of bare',
      'round trips / commands sent / commands Redis ran, per read',
    ],
    measurement.reads.flatMap(({ read, designs }) =>
      designs.map((d) => [
        readLabel(read),
        d.design,
        fixed(d.readsPerSecond),
        `${fixed(d.p50Ms, 3)} / ${fixed(d.p99Ms, 3)} ms`,
        d.design === 'bare commands' ? '1.00x' : `${fixed(d.ofBare, 2)}x${range(d.ratios)}`,
        `${count(d.roundTrips)} / ${count(d.commandsSent)} / ${count(d.commandsRun)}`,
      ]),
    ),
  );
}
