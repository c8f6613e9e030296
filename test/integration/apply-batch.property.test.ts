/**
 * The guarantee, as a property on a real Redis: whatever the log holds (producer duplicates,
 * late events, seqs that never arrive, events without a seq) and however the event source
 * delivers it (redeliveries from any earlier point, batches split anywhere), the shard ends equal
 * to a model computed from the unique events alone: the guard's model
 * (core/guard/model.ts) fed each unique event once. On the way, the Lua and the same
 * model fed the same deliveries agree on every event's outcome.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxBigInt } from '../../core/events/int64.ts';
import type { GuardedEvent, Mutation } from '../../core/events/types.ts';
import {
  emptyShardModel,
  type GuardOutcome,
  guardEvent,
  isApplied,
  type ShardModel,
} from '../../core/guard/model.ts';
import { encodeGapMember, metaField } from '../../core/layout/codecs.ts';
import { shardKeys, stateKey } from '../../core/layout/keys.ts';
import { applyChunk, type GuardOptions } from '../../core/redis/apply-batch.ts';
import { mutation, uniqueShard } from '../helpers/events.ts';
import { suiteRedis } from '../helpers/redis.ts';
import { streamEntries } from '../helpers/stream.ts';

const runs = Number(process.env.SEQGUARD_PROPERTY_RUNS ?? 1_000);

const { redis, raw } = suiteRedis(10_000);

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
  const nextMutation = (): Mutation => {
    const op = g(fc.constantFrom, 'zincrby', 'hincrby', 'hsetIfNewer');
    const target = g(fc.constantFrom, ...members);
    if (op === 'zincrby') {
      // Halves too: a state with a delta that is not an integer is summed by the script itself.
      const value = g(fc.integer, { min: -10, max: 40 }) / 2;
      return mutation(op, { key: 'board', member: target, delta: String(value) });
    }
    if (op === 'hincrby')
      return mutation(op, {
        key: 'coins',
        field: target,
        delta: g(fc.integer, { min: -5, max: 20 }),
      });
    version += g(fc.integer, { min: 1, max: 3 });
    return mutation(op, {
      key: 'profile',
      field: target,
      value: `v${id}`,
      version: String(BigInt(version) + base),
    });
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

const scoresOf = (model: ShardModel, key: string) => {
  const value = model.state.get(key);
  return new Map(
    value?.type === 'zset' ? [...value.members].map(([m, { score }]) => [m, score]) : [],
  );
};

const fieldsOf = (model: ShardModel, key: string) => {
  const value = model.state.get(key);
  return new Map(value?.type === 'hash' ? value.fields : []);
};

function expectedShard(shard: string, produced: Produced[], log: LogRecord[], base: bigint) {
  // Unique events that reached the log: by (scope, seq), or by record when without a seq.
  const unique = new Map<string, { produced: Produced; record: LogRecord }>();
  for (const record of log) {
    const p = record.produced;
    const id = p.seq === null ? `o:${record.partition}:${record.offset}` : `s:${p.scope}:${p.seq}`;
    if (!unique.has(id)) unique.set(id, { produced: p, record });
  }
  // The guard's model, fed each unique event once, in log order: every one must apply.
  const model = emptyShardModel();
  const outcomes: GuardOutcome[] = [];
  const cursors: Record<string, string> = {};
  const stream: string[] = [];
  for (const [id, { produced: p, record }] of unique) {
    outcomes.push(guardEvent(model, toGuarded(shard, record), base));
    stream.push(
      `${id.startsWith('o:') ? `o:t-${record.partition}:${record.offset}` : `s:${p.scope}:${p.seq}`}|${p.mutation.args.join('|')}`,
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
  const profile = fieldsOf(model, 'profile');
  return {
    model,
    outcomes,
    board: scoresOf(model, 'board'),
    coins: new Map([...fieldsOf(model, 'coins')].map(([k, v]) => [k, Number(v)])),
    profile: new Map([...profile].map(([k, v]) => [k, String(v)])),
    applied: unique.size,
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
  const pairs = (flat: string[]) =>
    flat.flatMap((_, i) => (i % 2 ? [] : [[flat[i], flat[i + 1]] as [string, string]]));
  const board = new Map(
    pairs(await raw.zrange(stateKey(shard, 'board'), '0', '-1', 'WITHSCORES')).map(([k, v]) => [
      k,
      Number(v),
    ]),
  );
  const coins = new Map(
    Object.entries(await raw.hgetall(stateKey(shard, 'coins'))).map(([k, v]) => [k, Number(v)]),
  );
  const profile = await raw.hgetall(stateKey(shard, 'profile'));
  const stream = (await streamEntries(raw, keys.stream)).map((e) => {
    const position = e.scope.startsWith('o:') ? `${e.scope}:${e.offset}` : `${e.scope}:${e.seq}`;
    return `${position}|${e.args.join('|')}`;
  });
  return {
    board,
    coins,
    profile,
    stream,
    meta: await raw.hgetall(keys.meta),
    cursors: await raw.hgetall(keys.cursors),
    gaps: await raw.zrange(keys.gaps, '0', '-1'),
    checkpoints: await raw.hgetall(keys.offsets),
  };
}

const sortedEntries = <V>(m: Map<string, V>) =>
  [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
const nonZero = (m: Map<string, number>) => new Map([...m].filter(([, v]) => v !== 0));

describe('applyChunk() against a model of the unique events', () => {
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
          };
          // Act
          const modelOfDeliveries = emptyShardModel();
          for (const part of split(g, deliveries)) {
            const events = part.map((r) => toGuarded(shard, r));
            const outcomes = await applyChunk(redis, shard, events, options);
            // The Lua and the model agree on each event, delivery by delivery.
            expect(outcomes).toEqual(events.map((e) => guardEvent(modelOfDeliveries, e, base)));
          }
          // Assess
          const expected = expectedShard(shard, produced, log, base);
          expect(expected.outcomes.every(isApplied)).toBe(true);
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
          expect(sortedEntries(nonZero(actual.board))).toEqual(
            sortedEntries(nonZero(expected.board)),
          );
          expect(sortedEntries(nonZero(actual.coins))).toEqual(
            sortedEntries(nonZero(expected.coins)),
          );
          expect(actual.profile).toEqual(Object.fromEntries(expected.profile));
          expect([...actual.stream].sort()).toEqual([...expected.stream].sort());
          expect(actual.cursors).toEqual(expected.cursors);
          expect([...actual.gaps].sort()).toEqual([...expected.gaps].sort());
          expect(actual.checkpoints).toEqual(expected.checkpoints);
          expect(Number(actual.meta[metaField.applied] ?? 0)).toBe(expected.applied);
          expect(expected.model.applied).toBe(expected.applied);
          for (const key of ['board', 'coins']) {
            expect(Number(actual.meta[metaField.sum(key)] ?? 0)).toBe(
              expected.model.totals.get(key)?.sum ?? 0,
            );
          }
          for (const key of ['board', 'coins', 'profile']) {
            expect(actual.meta[metaField.count(key)]).toBe(
              expected.model.totals.get(key)?.count.toString(),
            );
          }
          await raw.del(
            ...Object.values(shardKeys(shard)),
            ...['board', 'coins', 'profile'].map((k) => stateKey(shard, k)),
          );
        },
      ),
      { numRuns: runs },
    );
  }, 600_000);
});
