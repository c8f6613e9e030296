/**
 * The data layout on a real Redis: what lua/includes/layout.lua writes is what
 * core/layout/codecs.ts reads (stream entries, meta and version fields), and the
 * entries the guard wrote before the compact format (format 1, ten fields or more) are still
 * read, by the TypeScript fold of a rebuild and by the Lua swap alike.
 */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { GuardedEvent } from '../../core/events/types.ts';
import { streamEntryOf } from '../../core/guard/model.ts';
import { decodeDeadLetterEntry, metaField, versionField } from '../../core/layout/codecs.ts';
import { deadLetterKeys, shardKeys, stateKey } from '../../core/layout/keys.ts';
import { applyChunk, type GuardOptions } from '../../core/redis/apply-batch.ts';
import { appendDeadLetters } from '../../core/redis/dead-letter.ts';
import { rebuildState } from '../../tools/rebuild/rebuild.ts';
import { guardedEvent, mskRecord, mutation, uniqueShard } from '../helpers/events.ts';
import { suiteRedis } from '../helpers/redis.ts';
import { streamEntries } from '../helpers/stream.ts';

const keyPrefix = 'sg';
const options: GuardOptions = { firstSeq: '1', streamMaxLen: 0, streamMaxAgeMs: 0, keyPrefix };

const { redis, raw } = suiteRedis();

/** Names and values of any well-formed text, the format's separators and non-ASCII included. */
const text = (minLength: number) =>
  fc
    .string({
      minLength,
      maxLength: 12,
      unit: fc.oneof(
        fc.constantFrom(',', ':', 'é', '😀', '\u0000', '{', '}'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
    })
    .filter((s) => s.isWellFormed());

describe('the stream entry, meta and version fields applyBatch writes', () => {
  it('read back through the layout as the model says the guard wrote them', async () => {
    await fc.assert(
      fc.asyncProperty(
        text(1),
        text(1),
        text(0),
        text(0),
        fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }),
        async (scope, key, target, value, version) => {
          // Prepare
          const shard = uniqueShard('layout');
          const events: GuardedEvent[] = [
            guardedEvent({
              shard,
              scope,
              seq: 2,
              offset: 10,
              // Any bytes, the empty text too: the layout must carry what the Lua is given.
              mutation: {
                op: 'hsetIfNewer',
                keys: [key],
                args: [target, value, version.toString()],
              },
            }),
            guardedEvent({
              shard,
              scope,
              seq: 1,
              offset: 11,
              mutation: { op: 'hincrby', keys: [`${key}+`], args: [target, '-3'] },
            }),
            guardedEvent({ shard, seq: null, offset: 12, timestamp: 5 }),
            // Refused: the counter holds -3, a debit of 100 would take it below 0.
            guardedEvent({
              shard,
              scope,
              seq: 3,
              offset: 13,
              mutation: {
                op: 'transfer',
                keys: [`${key}+`, key],
                args: [target, value, '100', '0'],
              },
            }),
          ];
          // Act
          const outcomes = await applyChunk(redis, shard, events, options);
          // Assess
          expect(outcomes.map((o) => o.kind)).toEqual([
            'gapOpened',
            'appliedLate',
            'applied',
            'refused',
          ]);
          expect(await streamEntries(raw, shardKeys(shard).stream)).toEqual(
            events.map((event, i) => streamEntryOf(event, outcomes[i] as (typeof outcomes)[0])),
          );
          const keys = shardKeys(shard);
          expect(await raw.hget(keys.versions, versionField(key, target))).toBe(version.toString());
          expect(
            await raw.hmget(
              keys.meta,
              metaField.applied,
              metaField.count(key),
              metaField.count(`${key}+`),
              metaField.sum(`${key}+`),
            ),
          ).toEqual(['3', '1', '1', '-3']);
          await raw.del(...Object.values(keys), stateKey(shard, key), stateKey(shard, `${key}+`));
        },
      ),
      { numRuns: 40 },
    );
  });
});

/** The stream entry format the guard wrote before format 3: 1 (a field per part) or 2 (`v2`). */
let formerFormat: 1 | 2 = 1;

/** What a previous applyBatch wrote per applied event, in formerFormat: meta and state alike. */
async function appliedInFormat1(
  shard: string,
  entry: {
    seq: number;
    op: 'zincrby' | 'hsetIfNewer';
    key: string;
    target: string;
    value: string;
    version?: string;
  },
) {
  const keys = shardKeys(shard);
  const state = stateKey(shard, entry.key);
  if (entry.op === 'zincrby') await raw.zincrby(state, entry.value, entry.target);
  else {
    const field = versionField(entry.key, entry.target);
    const current = await raw.hget(keys.versions, field);
    if (current === null || BigInt(entry.version as string) > BigInt(current)) {
      await raw.hset(state, entry.target, entry.value);
      await raw.hset(keys.versions, field, entry.version as string);
    }
  }
  await raw.hincrby(keys.meta, metaField.count(entry.key), 1);
  if (formerFormat === 2) {
    const bytes = (text: string) => Buffer.byteLength(text);
    const header = [
      ...[bytes('s:old'), bytes(entry.key), bytes(entry.target), entry.seq, 'events-0'],
      ...[entry.seq, '1700000000000', entry.op, entry.version ?? '', ''],
    ].join(',');
    await raw.xadd(
      keys.stream,
      '*',
      'v2',
      `${header}:s:old${entry.key}${entry.target}${entry.value}`,
    );
    return;
  }
  await raw.xadd(
    keys.stream,
    '*',
    ...['scope', 's:old', 'seq', String(entry.seq), 'tp', 'events-0', 'offset', String(entry.seq)],
    ...['op', entry.op, 'key', entry.key, 'target', entry.target, 'value', entry.value],
    ...['ts', '1700000000000'],
    ...(entry.version === undefined ? [] : ['version', entry.version]),
  );
}

describe.each([1, 2] as const)(
  'rebuildState() on a stream that holds entries of format %i',
  (format) => {
    beforeEach(() => {
      formerFormat = format;
    });

    it('folds old and new entries alike, in the fold and in the swap', async () => {
      // Prepare: two events written by the previous guard, then two by this one.
      const shard = uniqueShard('layout');
      await appliedInFormat1(shard, {
        seq: 1,
        op: 'zincrby',
        key: 'board',
        target: 'ann',
        value: '5',
      });
      await appliedInFormat1(shard, {
        seq: 2,
        op: 'hsetIfNewer',
        key: 'profile',
        target: 'name',
        value: 'Ann',
        version: '5',
      });
      const next = (seq: number, mutation: GuardedEvent['mutation']) =>
        guardedEvent({ shard, scope: 'new', seq, offset: 100 + seq, mutation });
      await applyChunk(
        redis,
        shard,
        [
          next(1, mutation('zincrby', { key: 'board', member: 'ann', delta: '2' })),
          next(2, mutation('zincrby', { key: 'board', member: 'bob', delta: '1' })),
        ],
        options,
      );
      await raw.zincrby(stateKey(shard, 'board'), 100, 'ann'); // drift, for the rebuild to undo

      // Act: an old-format event also lands between the fold and the swap, for the Lua to fold.
      const board = await rebuildState(redis, {
        shard,
        name: 'board',
        keyPrefix,
        beforeSwap: () =>
          appliedInFormat1(shard, {
            seq: 3,
            op: 'zincrby',
            key: 'board',
            target: 'cy',
            value: '4',
          }),
      });
      const profile = await rebuildState(redis, {
        shard,
        name: 'profile',
        keyPrefix,
        beforeSwap: async () => {
          // Stale against the version the fold kept, then newer: the swap must tell them apart
          // in the fresh versions hash, written by the fold in the guard's own encoding.
          await appliedInFormat1(shard, {
            seq: 4,
            op: 'hsetIfNewer',
            key: 'profile',
            target: 'name',
            value: 'stale',
            version: '4',
          });
          await appliedInFormat1(shard, {
            seq: 5,
            op: 'hsetIfNewer',
            key: 'profile',
            target: 'name',
            value: 'Anna',
            version: '6',
          });
          await raw.hset(stateKey(shard, 'profile'), 'name', 'drifted');
        },
      });

      // Assess
      expect(board).toEqual({
        kind: 'rebuilt',
        entries: 4,
        targets: 3,
        changedTargets: 1,
        entriesAtSwap: 1,
      });
      expect(await raw.zrange(stateKey(shard, 'board'), '0', '-1', 'WITHSCORES')).toEqual([
        'bob',
        '1',
        'cy',
        '4',
        'ann',
        '7',
      ]);
      expect(profile).toEqual({
        kind: 'rebuilt',
        entries: 3,
        targets: 1,
        changedTargets: 1,
        entriesAtSwap: 2,
      });
      expect(await raw.hgetall(stateKey(shard, 'profile'))).toEqual({ name: 'Anna' });
    });

    it('refuses a stream entry the guard did not write, in either format', async () => {
      // Prepare
      const shard = uniqueShard('layout');
      await appliedInFormat1(shard, {
        seq: 1,
        op: 'zincrby',
        key: 'board',
        target: 'ann',
        value: '5',
      });
      await raw.xadd(shardKeys(shard).stream, '*', 'player', 'ann', 'delta', '5');
      // Act
      const result = await rebuildState(redis, { shard, name: 'board', keyPrefix });
      // Assess
      expect(result).toMatchObject({ kind: 'refused', reason: 'unfoldable' });
      expect(result.kind === 'refused' && result.message).toMatch(/not a seqguard stream entry/);
      expect(await raw.zscore(stateKey(shard, 'board'), 'ann')).toBe('5');
    });
  },
);

describe('the dead-letter entry deadLetter writes', () => {
  it('reads back through the layout with every field the record carried', async () => {
    // Prepare
    const prefix = `dl${uniqueShard('layout')}`;
    const record = {
      ...mskRecord({ topic: 'orders', partition: 2, offset: 41, key: 'k1', value: 'not json' }),
      headers: [{ trace: [104, 105] }],
    };
    // Act
    await appendDeadLetters(redis, [{ record, reason: 'value is not JSON' }], prefix);
    // Assess
    const entries = await raw.xrange(deadLetterKeys(prefix).stream, '-', '+');
    expect(entries).toHaveLength(1);
    const fields = entries[0]?.[1] ?? [];
    expect(decodeDeadLetterEntry(fields)).toEqual({
      tp: 'orders-2',
      offset: '41',
      reason: 'value is not JSON',
      key: record.key,
      value: record.value,
      headers: JSON.stringify(record.headers),
      ts: String(record.timestamp),
    });
    expect(() => decodeDeadLetterEntry(fields.slice(2))).toThrow(/no field "tp"/);
  });
});
