/**
 * Each built-in mutation's guarded rate against its own unguarded ceiling: the same events,
 * applied by seqguard's guarded batch (applyChunk) and by bench/unguarded-batch.lua, which runs
 * the same registered Lua body (refuse, then apply) and writes the same stream entry without the
 * guard. Every workload is realistic for its mutation: 16 scopes in order, 10,000 targets, and
 * for debit and transfer balances seeded (through the guard, before the clock starts) so that
 * part of the payouts are refused. In each round the two designs take turns chunk by chunk, each
 * on a shard of its own seeded alike, and both must leave the state the guard's model computes.
 */
import {
  applyChunk,
  chunk,
  defaultMutations,
  emptyShardModel,
  type GuardedEvent,
  guardEvent,
  isRecorded,
  parseScore,
  type RedisClient,
  type StateModel,
  shardKeys,
  stateKey,
} from '../core/index.ts';
import {
  type ChunkApply,
  benchOptions as options,
  shard,
  unguardedChunk,
} from './apply-throughput.ts';
import { collectGarbage, fixed, markdownTable, percentile } from './lib.ts';

const scopes = 16;
const targets = 10_000;
const chunkSize = 500;
/** The guarded batch writes to the first shard, the ceiling to the second. */
const shards = [shard, `${shard}-ceiling`] as const;

/** One mutation's events, and the events that seed its state before the clock starts. */
export interface MutationWorkload {
  mutation: string;
  setup: GuardedEvent[];
  events: GuardedEvent[];
}

/** The event i of a workload: scope i mod 16, seqs in order per scope, one partition per scope. */
function event(i: number, op: string, data: Record<string, unknown>): GuardedEvent {
  return {
    shard,
    sequence: { scope: `scope-${i % scopes}`, seq: String(Math.floor(i / scopes) + 1) },
    mutation: defaultMutations.mutation(op, data),
    record: {
      topic: 'bench',
      partition: i % scopes,
      offset: String(Math.floor(i / scopes)),
      timestamp: 1_700_000_000_000,
    },
  };
}

/** Seed events: one scope of their own, applied through the guard before each measurement. */
function setupEvent(i: number, op: string, data: Record<string, unknown>): GuardedEvent {
  return {
    shard,
    sequence: { scope: 'setup', seq: String(i + 1) },
    mutation: defaultMutations.mutation(op, data),
    record: { topic: 'setup', partition: 0, offset: String(i), timestamp: 1_700_000_000_000 },
  };
}

/** A target spread over the 10,000, the same for the same i. */
const spread = (i: number) => (i * 7919) % targets;
/** An amount from 1 to 10, which varies along the events of one account (a multiplicative hash). */
const amountOf = (i: number) => ((Math.imul(i, 2_654_435_761) >>> 0) % 10) + 1;

/**
 * Balances that cover 125% of what the account is asked to pay, but one account in four only
 * half of it: from one debit in eight (many per account) to one in four (one per account) is
 * refused "insufficient", fewer transfers (accounts also receive); the table counts them.
 */
function seededBalances(key: string, asked: Map<string, number>): GuardedEvent[] {
  const cover = [0.5, 1.25, 1.25, 1.25];
  return [...asked]
    .map(([field, total], j) => ({ field, delta: Math.floor(total * (cover[j % 4] as number)) }))
    .filter(({ delta }) => delta > 0)
    .map(({ field, delta }, j) => setupEvent(j, 'hincrby', { key, field, delta }));
}

function debitWorkload(count: number): MutationWorkload {
  const asked = new Map<string, number>();
  const events = Array.from({ length: count }, (_, i) => {
    const field = `account-${spread(i)}`;
    asked.set(field, (asked.get(field) ?? 0) + amountOf(i));
    return event(i, 'debit', { key: 'balances', field, amount: amountOf(i) });
  });
  return { mutation: 'debit', setup: seededBalances('balances', asked), events };
}

/** Between accounts of one key, and one transfer in five to a savings key of the shard. */
function transferWorkload(count: number): MutationWorkload {
  const asked = new Map<string, number>();
  const events = Array.from({ length: count }, (_, i) => {
    const from = `account-${spread(i)}`;
    asked.set(from, (asked.get(from) ?? 0) + amountOf(i));
    return event(i, 'transfer', {
      key: 'balances',
      from,
      to: `account-${spread(i + 1)}`,
      amount: amountOf(i),
      ...(i % 5 === 4 ? { toKey: 'savings' } : {}),
    });
  });
  return { mutation: 'transfer', setup: seededBalances('balances', asked), events };
}

/** The workload of each built-in mutation, `count` events each, in registration order. */
export function mutationWorkloads(count: number): MutationWorkload[] {
  const of = (
    mutation: string,
    data: (i: number) => Record<string, unknown>,
    setup: GuardedEvent[] = [],
  ): MutationWorkload => ({
    mutation,
    setup,
    events: Array.from({ length: count }, (_, i) => event(i, mutation, data(i))),
  });
  const score = (i: number) => (i * 104_729) % 100_000;
  const workloads: Record<string, () => MutationWorkload> = {
    zincrby: () =>
      of('zincrby', (i) => ({
        key: 'leaderboard',
        member: `player-${spread(i)}`,
        delta: (i % 5) + 1,
      })),
    hincrby: () =>
      of('hincrby', (i) => ({ key: 'counters', field: `player-${spread(i)}`, delta: (i % 5) + 1 })),
    // Versions rise with the events, and one event in eight arrives with an older one (a no-op).
    hsetIfNewer: () =>
      of('hsetIfNewer', (i) => ({
        key: 'profiles',
        field: `player-${spread(i)}`,
        value: `level-${i}`,
        version: i % 8 === 7 ? Math.max(1, i - 50_000) : i + 1,
      })),
    debit: () => debitWorkload(count),
    transfer: () => transferWorkload(count),
    zmax: () =>
      of('zmax', (i) => ({ key: 'best', member: `player-${spread(i)}`, score: score(i) })),
    zmin: () =>
      of('zmin', (i) => ({ key: 'laps', member: `player-${spread(i)}`, score: score(i) })),
    sadd: () => of('sadd', (i) => ({ key: 'inventory', member: `item-${spread(i)}` })),
    // The inventory holds every item first; removing one already gone is a no-op.
    srem: () =>
      of(
        'srem',
        (i) => ({ key: 'inventory', member: `item-${spread(i)}` }),
        Array.from({ length: targets }, (_, j) =>
          setupEvent(j, 'sadd', { key: 'inventory', member: `item-${j}` }),
        ),
      ),
  };
  return defaultMutations.names.map((name) => {
    const make = workloads[name];
    if (make === undefined) throw new TypeError(`the bench has no workload for "${name}"`);
    return make();
  });
}

/** What a workload must leave: the guard's model, fed the seed events and then the events. */
export interface Expected {
  state: StateModel;
  /** Stream entries: applied and refused events, the seed's included. */
  entries: number;
  refused: number;
}

export function expectedOf(workload: MutationWorkload): Expected {
  const model = emptyShardModel();
  let entries = 0;
  let refused = 0;
  for (const e of [...workload.setup, ...workload.events]) {
    const outcome = guardEvent(model, e, BigInt(options.firstSeq));
    if (isRecorded(outcome)) entries++;
    if (outcome.kind === 'refused') refused++;
  }
  return { state: model, entries, refused };
}

/** Whether the state keys in Redis hold what the model holds (and no other key of theirs). */
async function stateMatches(
  redis: RedisClient,
  on: string,
  expected: StateModel,
  names: Set<string>,
): Promise<boolean> {
  for (const name of names) {
    const key = stateKey(on, name, options.keyPrefix);
    const want = expected.state.get(name);
    const type = await redis.type(key);
    if (want === undefined || type !== want.type) {
      if (want !== undefined || type !== 'none') return false;
      continue;
    }
    if (want.type === 'zset') {
      const flat = await redis.zrange(key, '0', '-1', 'WITHSCORES');
      if (flat.length / 2 !== want.members.size) return false;
      for (let i = 0; i < flat.length; i += 2) {
        const score = want.members.get(flat[i] as string)?.score;
        if (parseScore(flat[i + 1] as string) !== score) return false;
      }
    } else if (want.type === 'hash') {
      const fields = Object.entries(await redis.hgetall(key));
      if (fields.length !== want.fields.size) return false;
      if (fields.some(([field, value]) => String(want.fields.get(field)) !== value)) return false;
    } else {
      const members = await redis.smembers(key);
      if (members.length !== want.members.size) return false;
      if (members.some((member) => !want.members.has(member))) return false;
    }
  }
  return true;
}

const guardedChunk: ChunkApply = (redis, on, part) => applyChunk(redis, on, part, options);

/** Whether a shard holds what the workload must leave: its state, and its stream entries. */
async function shardMatches(
  redis: RedisClient,
  on: string,
  workload: MutationWorkload,
  expected: Expected,
): Promise<boolean> {
  const names = new Set([...workload.setup, ...workload.events].flatMap((e) => e.mutation.keys));
  return (
    (await stateMatches(redis, on, expected.state, names)) &&
    (await redis.xlen(shardKeys(on, options.keyPrefix).stream)) === expected.entries
  );
}

/**
 * One round of one workload: both designs, each on a shard of its own seeded alike, taking turns
 * chunk by chunk (which goes first alternates), so that both meet the machine's load of each
 * moment. A design's rate is the events over the time of its own calls (the arguments built in
 * them).
 */
async function measureRound(
  redis: RedisClient,
  designs: readonly [ChunkApply, ChunkApply],
  workload: MutationWorkload,
  expected: Expected,
): Promise<{ perSecond: [number, number]; correct: boolean }> {
  await redis.flushall();
  for (const on of shards) {
    for (const part of chunk(workload.setup, chunkSize)) await applyChunk(redis, on, part, options);
  }
  collectGarbage();
  const ms = [0, 0];
  for (const [i, part] of chunk(workload.events, chunkSize).entries()) {
    for (const j of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const started = performance.now();
      await (designs[j] as ChunkApply)(redis, shards[j] as string, part);
      ms[j] = (ms[j] as number) + performance.now() - started;
    }
  }
  const correct =
    (await shardMatches(redis, shards[0], workload, expected)) &&
    (await shardMatches(redis, shards[1], workload, expected));
  const perSecond = (j: number) => workload.events.length / ((ms[j] as number) / 1000);
  return { perSecond: [perSecond(0), perSecond(1)], correct };
}

/** One mutation's row: the medians of its rounds, each round's two rates taken together. */
export interface MutationMeasurement {
  mutation: string;
  events: number;
  /** Events the guard refused (debit, transfer): a business reason, final. */
  refused: number;
  guardedPerSecond: number;
  ceilingPerSecond: number;
  /** The median of the rounds' own ratios, guarded / ceiling. */
  ratio: number;
  ratios: number[];
  correct: boolean;
}

/**
 * Every built-in mutation, guarded and unguarded, `rounds` times: in each round every mutation
 * in turn, its two designs taking turns chunk by chunk (measureRound).
 */
export async function measureMutationThroughput(
  redis: RedisClient,
  count: number,
  rounds: number,
): Promise<MutationMeasurement[]> {
  const designs = [guardedChunk, await unguardedChunk(redis, false)] as const;
  const workloads = mutationWorkloads(count).map((workload) => ({
    workload,
    expected: expectedOf(workload),
    guarded: [] as number[],
    ceiling: [] as number[],
    correct: true,
  }));
  for (let round = 0; round < rounds; round++) {
    for (const w of workloads) {
      const { perSecond, correct } = await measureRound(redis, designs, w.workload, w.expected);
      w.guarded.push(perSecond[0]);
      w.ceiling.push(perSecond[1]);
      w.correct &&= correct;
    }
  }
  return workloads.map((w) => {
    const ratios = w.guarded.map((rate, i) => rate / (w.ceiling[i] as number));
    return {
      mutation: w.workload.mutation,
      events: w.workload.events.length,
      refused: w.expected.refused,
      guardedPerSecond: percentile(w.guarded, 50),
      ceilingPerSecond: percentile(w.ceiling, 50),
      ratio: percentile(ratios, 50),
      ratios,
      correct: w.correct,
    };
  });
}

/** The table of the per-mutation rows, each ratio held to `target`. */
export function mutationTable(rows: readonly MutationMeasurement[], target: number): string {
  return markdownTable(
    [
      'mutation',
      'events',
      'refused',
      'guarded events/s',
      'ceiling events/s',
      'guarded / ceiling',
      `>= ${target}x`,
      'correct',
    ],
    rows.map((r) => [
      r.mutation,
      fixed(r.events),
      fixed(r.refused),
      fixed(r.guardedPerSecond),
      fixed(r.ceilingPerSecond),
      `${fixed(r.ratio, 2)}x${r.ratios.length > 1 ? ` (${fixed(Math.min(...r.ratios), 2)} to ${fixed(Math.max(...r.ratios), 2)})` : ''}`,
      r.ratio >= target ? 'yes' : 'NO',
      r.correct ? 'yes' : 'NO',
    ]),
  );
}
