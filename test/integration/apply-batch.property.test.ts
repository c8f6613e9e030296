/**
 * The guarantee, as a property on a real Redis: whatever the log holds (producer duplicates,
 * late events, seqs that never arrive, events without a seq) and however the event source
 * delivers it (redeliveries from any earlier point, batches split anywhere), the shard ends equal
 * to a model computed from the unique events alone: the guard's model
 * (core/guard/model.ts) fed each unique event once, in the order the sink first saw it. On the
 * way, the Lua and the same model fed the same deliveries agree on every event's outcome.
 *
 * Every registered mutation takes part: the built-ins and the worked example of our own
 * (local/scenario/capped-counter.ts), refusals included (debits and transfers beyond the balance,
 * increments beyond the cap): a refused event consumes its seq, so a redelivery never applies it
 * even after the balance has risen.
 */
import fc from 'fast-check';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxBigInt } from '../../core/events/int64.ts';
import type { GuardedEvent, Mutation } from '../../core/events/types.ts';
import {
  emptyShardModel,
  type GuardOutcome,
  guardEvent,
  isRecorded,
  type ShardModel,
} from '../../core/guard/model.ts';
import { encodeGapMember, metaField } from '../../core/layout/codecs.ts';
import { shardKeys, stateKey } from '../../core/layout/keys.ts';
import { applyChunk, type GuardOptions } from '../../core/redis/apply-batch.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { scenarioMutations } from '../../local/scenario/capped-counter.ts';
import { uniqueShard } from '../helpers/events.ts';
import { projectClient, rawCluster, rawRedis, suiteTarget } from '../helpers/redis.ts';
import { streamEntries } from '../helpers/stream.ts';

const runs = Number(process.env.SEQGUARD_PROPERTY_RUNS ?? 1_000);

/** The Redis of the describe block running: the suite's redis-server, or its cluster. */
let redis: RedisClient;
let raw: Redis | Cluster;

/** One event as produced: unique by (scope, seq), or by its record when it has no seq. */
interface Produced {
  id: number;
  scope: string | null;
  seq: bigint | null;
  mutation: Mutation;
}

/** A record in the log: a produced event at an offset of a partition. */
interface LogRecord {
  produced: Produced;
  partition: number;
  offset: bigint;
}

type Gen = fc.GeneratorValue;

const members = ['ann', 'bob', 'cy'];

function produceEvents(g: Gen, base: bigint): { produced: Produced[]; delivered: Produced[] } {
  const produced: Produced[] = [];
  const delivered: Produced[] = [];
  const scopes = g(fc.integer, { min: 1, max: 3 });
  let id = 0;
  let version = 0;
  const mutation = (op: string, data: Record<string, unknown>) =>
    scenarioMutations.mutation(op, data);
  const nextMutation = (): Mutation => {
    const op = g(
      fc.constantFrom,
      'zincrby',
      'hincrby',
      'hsetIfNewer',
      'debit',
      'transfer',
      'zmax',
      'zmin',
      'sadd',
      'srem',
      'cappedIncr',
    );
    const target = g(fc.constantFrom, ...members);
    const other = g(fc.constantFrom, ...members.filter((m) => m !== target));
    const amount = g(fc.integer, { min: 0, max: 25 });
    switch (op) {
      case 'zincrby':
        // Halves too: a state with a delta that is not an integer is summed by the script itself.
        return mutation(op, {
          key: 'board',
          member: target,
          delta: String(g(fc.integer, { min: -10, max: 40 }) / 2),
        });
      case 'hincrby':
        return mutation(op, {
          key: 'coins',
          field: target,
          delta: g(fc.integer, { min: -5, max: 20 }),
        });
      case 'hsetIfNewer':
        version += g(fc.integer, { min: 1, max: 3 });
        return mutation(op, {
          key: 'profile',
          field: target,
          value: `v${id}`,
          version: String(BigInt(version) + base),
        });
      case 'debit':
        return mutation(op, {
          key: 'coins',
          field: target,
          amount,
          ...(g(fc.boolean) ? { floor: g(fc.integer, { min: -10, max: 5 }) } : {}),
        });
      case 'transfer':
        // Within one key, or to a second key of the shard.
        return g(fc.boolean)
          ? mutation(op, { key: 'coins', from: target, to: other, amount })
          : mutation(op, { key: 'coins', from: target, to: target, toKey: 'vault', amount });
      case 'zmax':
      case 'zmin':
        return mutation(op, {
          key: op === 'zmax' ? 'best' : 'lap',
          member: target,
          score: g(fc.integer, { min: -20, max: 20 }) / 4,
        });
      case 'sadd':
      case 'srem':
        return mutation(op, { key: 'badges', member: target });
      default:
        return mutation('cappedIncr', { key: 'spins', field: target, delta: amount, cap: 30 });
    }
  };
  for (let s = 0; s < scopes; s++) {
    const count = g(fc.integer, { min: 1, max: 12 });
    for (let i = 0; i < count; i++) {
      const event = {
        id: id++,
        scope: `scope-${s}`,
        seq: base + BigInt(i),
        mutation: nextMutation(),
      };
      produced.push(event);
      // Some seqs never reach the topic: their gaps must stay open.
      if (!g(fc.boolean) || g(fc.boolean) || g(fc.boolean)) delivered.push(event);
    }
  }
  const withoutSeq = g(fc.integer, { min: 0, max: 4 });
  for (let i = 0; i < withoutSeq; i++) {
    const event = { id: id++, scope: null, seq: null, mutation: nextMutation() };
    produced.push(event);
    delivered.push(event);
  }
  return { produced, delivered };
}

/** The topic: events in any order over two partitions, producer retries appended again later. */
function buildLog(g: Gen, delivered: Produced[], base: bigint): LogRecord[] {
  const order = g(fc.shuffledSubarray, delivered, {
    minLength: delivered.length,
    maxLength: delivered.length,
  });
  const sends: { produced: Produced; partition: number }[] = order.map((produced) => ({
    produced,
    partition: g(fc.integer, { min: 0, max: 1 }),
  }));
  const retries = g(fc.integer, { min: 0, max: 4 });
  for (let i = 0; i < retries && sends.length > 0; i++) {
    const at = g(fc.integer, { min: 0, max: sends.length - 1 });
    const original = sends[at] as (typeof sends)[number];
    if (original.produced.seq === null) continue; // without a seq, a resend is a new event
    sends.splice(g(fc.integer, { min: at + 1, max: sends.length }), 0, { ...original });
  }
  const nextOffset = [base, base + 1000n];
  return sends.map(({ produced, partition }) => {
    const offset = nextOffset[partition] as bigint;
    nextOffset[partition] = offset + 1n;
    return { produced, partition, offset };
  });
}

/** What the event source delivers: each partition in order, rewinding at will, interleaved. */
function deliver(g: Gen, log: LogRecord[]): LogRecord[] {
  const lanes = [0, 1].map((p) => {
    const records = log.filter((r) => r.partition === p);
    const out: LogRecord[] = [];
    let position = 0;
    let rewinds = 0;
    while (position < records.length) {
      const size = g(fc.integer, { min: 1, max: 5 });
      out.push(...records.slice(position, position + size));
      if (rewinds < 4 && g(fc.boolean)) {
        rewinds++;
        position = g(fc.integer, { min: Math.max(0, position - 3), max: position + size - 1 });
      } else {
        position += size;
      }
    }
    return out;
  });
  const merged: LogRecord[] = [];
  const [a = [], b = []] = lanes;
  while (a.length > 0 || b.length > 0) {
    const lane = a.length === 0 ? b : b.length === 0 ? a : g(fc.boolean) ? a : b;
    merged.push(lane.shift() as LogRecord);
  }
  return merged;
}

function split<T>(g: Gen, items: T[]): T[][] {
  const chunks: T[][] = [];
  let i = 0;
  while (i < items.length) {
    const size = g(fc.integer, { min: 1, max: 12 });
    chunks.push(items.slice(i, i + size));
    i += size;
  }
  return chunks;
}

function toGuarded(shard: string, record: LogRecord): GuardedEvent {
  const { produced } = record;
  return {
    shard,
    sequence:
      produced.seq === null
        ? null
        : { scope: produced.scope as string, seq: produced.seq.toString() },
    mutation: produced.mutation,
    record: {
      topic: 't',
      partition: record.partition,
      offset: record.offset.toString(),
      timestamp: 1,
    },
  };
}

/** Missing seqs of one scope as gap ledger members. */
function missingRanges(field: string, present: Set<bigint>, from: bigint, to: bigint): string[] {
  const ranges: string[] = [];
  let start: bigint | null = null;
  for (let s = from; s <= to + 1n; s++) {
    const missing = s <= to && !present.has(s);
    if (missing && start === null) start = s;
    if (!missing && start !== null) {
      ranges.push(encodeGapMember({ field, first: start, last: s - 1n }));
      start = null;
    }
  }
  return ranges;
}

/** The state names the generated mutations write, and the Redis type each one holds. */
const stateNames = ['board', 'coins', 'profile', 'vault', 'best', 'lap', 'badges', 'spins'];

/** Scores as Redis compares them: -0 is 0. */
const score = (n: number) => (n === 0 ? 0 : n);

/** A state key's contents, sorted, as text: what both the model and Redis are turned into. */
type StateText = Record<string, [string, string][]>;

function modelState(model: ShardModel): StateText {
  const state: StateText = {};
  for (const name of stateNames) {
    const value = model.state.get(name);
    if (value === undefined) continue;
    const entries: [string, string][] =
      value.type === 'zset'
        ? [...value.members].map(([m, s]) => [m, String(score(s.score))])
        : value.type === 'hash'
          ? [...value.fields].map(([f, v]) => [f, String(v)])
          : [...value.members].map((m) => [m, '']);
    state[name] = entries.sort(([a], [b]) => a.localeCompare(b));
  }
  return state;
}

async function redisState(shard: string): Promise<StateText> {
  const state: StateText = {};
  for (const name of stateNames) {
    const key = stateKey(shard, name);
    const type = await raw.type(key);
    let entries: [string, string][];
    if (type === 'none') continue;
    if (type === 'zset') {
      const flat = await raw.zrange(key, '0', '-1', 'WITHSCORES');
      entries = flat.flatMap((m, i) =>
        i % 2 ? [] : [[m, String(score(Number(flat[i + 1])))] as [string, string]],
      );
    } else if (type === 'hash') {
      entries = Object.entries(await raw.hgetall(key));
    } else {
      entries = (await raw.smembers(key)).map((m) => [m, '']);
    }
    state[name] = entries.sort(([a], [b]) => a.localeCompare(b));
  }
  return state;
}

function expectedShard(
  shard: string,
  produced: Produced[],
  log: LogRecord[],
  deliveries: LogRecord[],
  base: bigint,
) {
  // Unique events that reached the sink: by (scope, seq), or by record when without a seq, in
  // the order of their first delivery (a debit's fate depends on what came before it).
  const unique = new Map<string, { produced: Produced; record: LogRecord }>();
  for (const record of deliveries) {
    const p = record.produced;
    const id = p.seq === null ? `o:${record.partition}:${record.offset}` : `s:${p.scope}:${p.seq}`;
    if (!unique.has(id)) unique.set(id, { produced: p, record });
  }
  // The guard's model, fed each unique event once: every one must apply or be refused.
  const model = emptyShardModel();
  const outcomes: GuardOutcome[] = [];
  const cursors: Record<string, string> = {};
  const stream: string[] = [];
  for (const [id, { produced: p, record }] of unique) {
    outcomes.push(guardEvent(model, toGuarded(shard, record), base, scenarioMutations));
    const outcome = outcomes.at(-1) as GuardOutcome;
    stream.push(
      `${id.startsWith('o:') ? `o:t-${record.partition}:${record.offset}` : `s:${p.scope}:${p.seq}`}|${p.mutation.args.join('|')}|${outcome.kind === 'refused' ? outcome.reason : ''}`,
    );
    const field = p.seq === null ? `o:t-${record.partition}` : `s:${p.scope}`;
    const position = p.seq ?? record.offset;
    if (cursors[field] === undefined || BigInt(cursors[field]) < position)
      cursors[field] = position.toString();
  }
  const gaps: string[] = [];
  for (const scope of new Set(
    produced.filter((p) => p.scope !== null).map((p) => p.scope as string),
  )) {
    const present = new Set(
      [...unique.values()]
        .filter((u) => u.produced.scope === scope)
        .map((u) => u.produced.seq as bigint),
    );
    if (present.size === 0) continue;
    const top = [...present].reduce(maxBigInt);
    gaps.push(...missingRanges(`s:${scope}`, present, base, top));
  }
  const checkpoints: Record<string, string> = {};
  for (const record of log) {
    const tp = `t-${record.partition}`;
    if (checkpoints[tp] === undefined || BigInt(checkpoints[tp]) < record.offset)
      checkpoints[tp] = record.offset.toString();
  }
  return {
    model,
    outcomes,
    state: modelState(model),
    applied: outcomes.filter((o) => o.kind !== 'refused').length,
    cursors,
    stream,
    gaps,
    checkpoints,
  };
}

/** The model's cursors and gap ledger as Redis keeps them. */
function modelCursors(model: ShardModel) {
  const cursors: Record<string, string> = {};
  const gaps: string[] = [];
  for (const [field, cursor] of model.cursors) {
    cursors[field] = cursor.value.toString();
    for (const [first, last] of cursor.gaps) gaps.push(encodeGapMember({ field, first, last }));
  }
  return { cursors, gaps };
}

async function readShard(shard: string) {
  const keys = shardKeys(shard);
  const stream = (await streamEntries(raw, keys.stream)).map((e) => {
    const position = e.scope.startsWith('o:') ? `${e.scope}:${e.offset}` : `${e.scope}:${e.seq}`;
    return `${position}|${e.args.join('|')}|${e.refused ?? ''}`;
  });
  return {
    state: await redisState(shard),
    stream,
    meta: await raw.hgetall(keys.meta),
    cursors: await raw.hgetall(keys.cursors),
    gaps: await raw.zrange(keys.gaps, '0', '-1'),
    checkpoints: await raw.hgetall(keys.offsets),
  };
}

describe.each([
  { on: 'a redis-server', kind: 'single', numRuns: runs },
  // Each shard is one slot of the cluster; fewer runs, each on several masters' slots.
  { on: 'a 3-master cluster', kind: 'cluster', numRuns: Math.max(50, Math.round(runs / 5)) },
] as const)('applyChunk() against a model of the unique events, on $on', ({ kind, numRuns }) => {
  beforeAll(() => {
    const target = suiteTarget(kind);
    redis = projectClient(target, { commandTimeoutMs: 10_000 });
    raw = kind === 'single' ? rawRedis(target) : rawCluster(target);
  });
  afterAll(() => {
    redis.disconnect();
    raw.disconnect();
  });

  it('leaves state, stream, cursors, gaps, totals and checkpoints equal to the model', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0n, 1n, 2n ** 53n - 7n, 2n ** 63n - 100_000n),
        fc.gen(),
        async (base, g) => {
          // Prepare
          const shard = uniqueShard('prop');
          const { produced, delivered } = produceEvents(g, base);
          const log = buildLog(g, delivered, base);
          const deliveries = deliver(g, log);
          const options: GuardOptions = {
            firstSeq: base.toString(),
            streamMaxLen: 0,
            streamMaxAgeMs: 0,
            keyPrefix: 'sg',
            mutations: scenarioMutations,
          };
          // Act
          const modelOfDeliveries = emptyShardModel();
          for (const part of split(g, deliveries)) {
            const events = part.map((r) => toGuarded(shard, r));
            const outcomes = await applyChunk(redis, shard, events, options);
            // The Lua and the model agree on each event, delivery by delivery.
            expect(outcomes).toEqual(
              events.map((e) => guardEvent(modelOfDeliveries, e, base, scenarioMutations)),
            );
          }
          // Assess
          const expected = expectedShard(shard, produced, log, deliveries, base);
          expect(expected.outcomes.every(isRecorded)).toBe(true);
          expect(modelCursors(expected.model)).toEqual({
            cursors: expected.cursors,
            gaps: expect.arrayContaining(expected.gaps),
          });
          expect(modelCursors(expected.model).gaps).toHaveLength(expected.gaps.length);
          expect(Object.fromEntries(modelOfDeliveries.checkpoints)).toEqual(
            Object.fromEntries(
              Object.entries(expected.checkpoints).map(([tp, o]) => [tp, BigInt(o)]),
            ),
          );
          const actual = await readShard(shard);
          expect(actual.state).toEqual(expected.state);
          expect([...actual.stream].sort()).toEqual([...expected.stream].sort());
          expect(actual.cursors).toEqual(expected.cursors);
          expect([...actual.gaps].sort()).toEqual([...expected.gaps].sort());
          expect(actual.checkpoints).toEqual(expected.checkpoints);
          expect(Number(actual.meta[metaField.applied] ?? 0)).toBe(expected.applied);
          expect(expected.model.applied).toBe(expected.applied);
          for (const key of stateNames) {
            expect(Number(actual.meta[metaField.sum(key)] ?? 0), key).toBe(
              expected.model.totals.get(key)?.sum ?? 0,
            );
            expect(actual.meta[metaField.count(key)], key).toBe(
              expected.model.totals.get(key)?.count.toString(),
            );
          }
          await raw.del(
            ...Object.values(shardKeys(shard)),
            ...stateNames.map((k) => stateKey(shard, k)),
          );
        },
      ),
      { numRuns },
    );
  }, 600_000);
});
