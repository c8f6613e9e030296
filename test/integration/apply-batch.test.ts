import { describe, expect, it } from 'vitest';
import { RedisLayoutError, RedisUnavailableError } from '../../core/errors.ts';
import type { GuardedEvent } from '../../core/events/types.ts';
import { shardKeys, stateKey } from '../../core/layout/keys.ts';
import { applyChunk, type GuardOptions } from '../../core/redis/apply-batch.ts';
import { createRedisClient } from '../../core/redis/client.ts';
import { guardedEvent, mutation, uniqueShard } from '../helpers/events.ts';
import { suiteRedis } from '../helpers/redis.ts';
import { streamEntries } from '../helpers/stream.ts';

const options: GuardOptions = {
  firstSeq: '1',
  streamMaxLen: 0,
  streamMaxAgeMs: 0,
  keyPrefix: 'sg',
};

const { redis, raw } = suiteRedis();

const kinds = async (shard: string, events: GuardedEvent[], opts = options) =>
  (await applyChunk(redis, shard, events, opts)).map((o) => o.kind);

const seqEvent = (
  shard: string,
  seq: string | number,
  offset: number,
  delta = '1',
  scope = 'scope-a',
) =>
  guardedEvent({
    shard,
    scope,
    seq,
    offset,
    mutation: mutation('zincrby', { key: 'leaderboard', member: 'player-1', delta: delta }),
  });

const score = (shard: string) => raw.zscore(stateKey(shard, 'leaderboard'), 'player-1');
const gaps = async (shard: string) => raw.zrange(shardKeys(shard).gaps, '0', '-1');

describe('applyChunk()', () => {
  it('applies the next seq and skips a seq at or below the cursor', async () => {
    // Prepare
    const shard = uniqueShard();
    // Act
    const first = await kinds(shard, [seqEvent(shard, 1, 0, '5'), seqEvent(shard, 2, 1, '7')]);
    const again = await kinds(shard, [seqEvent(shard, 2, 1, '7'), seqEvent(shard, 1, 0, '5')]);
    // Assess
    expect(first).toEqual(['applied', 'applied']);
    expect(again).toEqual(['duplicate', 'duplicate']);
    expect(await score(shard)).toBe('12');
    expect(await raw.hget(shardKeys(shard).cursors, 's:scope-a')).toBe('2');
  });

  it('opens a gap above the cursor and applies late events inside it exactly once', async () => {
    const shard = uniqueShard();
    expect(await kinds(shard, [seqEvent(shard, 1, 0), seqEvent(shard, 5, 1)])).toEqual([
      'applied',
      'gapOpened',
    ]);
    expect(await gaps(shard)).toEqual([
      `0009s:scope-a${'2'.padStart(20, '0')}${'4'.padStart(20, '0')}`,
    ]);

    expect(await kinds(shard, [seqEvent(shard, 3, 2), seqEvent(shard, 3, 3)])).toEqual([
      'appliedLate',
      'duplicate',
    ]);
    expect((await gaps(shard)).length).toBe(2);

    expect(
      await kinds(shard, [seqEvent(shard, 2, 4), seqEvent(shard, 4, 5), seqEvent(shard, 4, 6)]),
    ).toEqual(['appliedLate', 'appliedLate', 'duplicate']);
    expect(await gaps(shard)).toEqual([]);
    expect(await score(shard)).toBe('5');
    // Late events do not move the cursor back.
    expect(await raw.hget(shardKeys(shard).cursors, 's:scope-a')).toBe('5');
  });

  it('opens a gap from firstSeq for a scope whose first event is above it, and rejects below it', async () => {
    const shard = uniqueShard();
    const result = await kinds(shard, [
      seqEvent(shard, 3, 0),
      seqEvent(shard, 0, 1, '1', 'scope-b'),
    ]);
    expect(result).toEqual(['gapOpened', 'rejected']);
    expect(await gaps(shard)).toEqual([
      `0009s:scope-a${'1'.padStart(20, '0')}${'2'.padStart(20, '0')}`,
    ]);

    const fromZero = await kinds(shard, [seqEvent(shard, 0, 2, '1', 'scope-c')], {
      ...options,
      firstSeq: '0',
    });
    expect(fromZero).toEqual(['applied']);
  });

  it('keeps cursors per scope', async () => {
    const shard = uniqueShard();
    const result = await kinds(shard, [
      seqEvent(shard, 1, 0, '1', 'a'),
      seqEvent(shard, 1, 1, '1', 'b'),
      seqEvent(shard, 2, 2, '1', 'a'),
      seqEvent(shard, 1, 3, '1', 'a'),
    ]);
    expect(result).toEqual(['applied', 'applied', 'applied', 'duplicate']);
    expect(await raw.hgetall(shardKeys(shard).cursors)).toEqual({ 's:a': '2', 's:b': '1' });
  });

  it('guards events without a seq by topic-partition and offset, recording no gaps', async () => {
    const shard = uniqueShard();
    const byOffset = (offset: number, partition = 0) =>
      guardedEvent({ shard, seq: null, offset, partition });
    expect(await kinds(shard, [byOffset(10), byOffset(15), byOffset(12), byOffset(3, 1)])).toEqual([
      'applied',
      'applied',
      'duplicate',
      'applied',
    ]);
    expect(await gaps(shard)).toEqual([]);
    expect(await raw.hgetall(shardKeys(shard).cursors)).toEqual({
      'o:events-0': '15',
      'o:events-1': '3',
    });
  });

  it('compares and stores seqs and offsets above 2^53 exactly', async () => {
    const shard = uniqueShard();
    const base = 9_007_199_254_740_993n; // 2^53 + 1: a double would read it as 2^53
    const big = (delta: bigint, offset: bigint) =>
      guardedEvent({
        shard,
        scope: 's',
        seq: (base + delta).toString(),
        offset: offset.toString(),
      });
    const result = await kinds(
      shard,
      [big(0n, base), big(2n, base + 1n), big(1n, base + 2n), big(1n, base + 3n)],
      {
        ...options,
        firstSeq: base.toString(),
      },
    );
    expect(result).toEqual(['applied', 'gapOpened', 'appliedLate', 'duplicate']);
    expect(await raw.hget(shardKeys(shard).cursors, 's:s')).toBe((base + 2n).toString());
    expect(await raw.hget(shardKeys(shard).offsets, 'events-0')).toBe((base + 3n).toString());

    const max = '9223372036854775807';
    expect(
      await kinds(shard, [guardedEvent({ shard, scope: 'top', seq: max, offset: 1 })]),
    ).toEqual(['gapOpened']);
    expect(await raw.hget(shardKeys(shard).cursors, 's:top')).toBe(max);
    expect(
      await kinds(shard, [
        guardedEvent({ shard, scope: 'top', seq: '9223372036854775806', offset: 2 }),
      ]),
    ).toEqual(['appliedLate']);
  });

  it('applies counters and last-writer-by-version fields', async () => {
    const shard = uniqueShard();
    const hincr = (seq: number, delta: string) =>
      guardedEvent({
        shard,
        seq,
        offset: seq,
        mutation: mutation('hincrby', { key: 'coins', field: 'alice', delta: delta }),
      });
    const hset = (seq: number, value: string, version: string) =>
      guardedEvent({
        shard,
        scope: 'profile',
        seq,
        offset: 100 + seq,
        mutation: mutation('hsetIfNewer', {
          key: 'profile',
          field: 'name',
          value: value,
          version: version,
        }),
      });
    await kinds(shard, [hincr(1, '10'), hincr(2, '-3'), hincr(2, '-3')]);
    await kinds(shard, [hset(1, 'old', '5'), hset(3, 'newest', '9'), hset(2, 'middle', '7')]);
    expect(await raw.hget(stateKey(shard, 'coins'), 'alice')).toBe('7');
    expect(await raw.hget(stateKey(shard, 'profile'), 'name')).toBe('newest');
    const meta = await raw.hgetall(shardKeys(shard).meta);
    expect(meta).toMatchObject({
      'sum:coins': '7',
      'n:coins': '2',
      'n:profile': '3',
      applied: '5',
    });
  });

  it('keeps the running totals exact for deltas and sums beyond 2^52', async () => {
    // Prepare: a delta above 2^53 goes to Redis on its own; small ones are summed in Lua, and
    // a sum about to pass 2^52 is written before it loses precision.
    const shard = uniqueShard();
    const counter = (seq: number, key: string, delta: string) =>
      guardedEvent({
        shard,
        scope: key,
        seq,
        offset: seq,
        mutation: mutation('hincrby', { key, field: 'alice', delta: delta }),
      });
    // Act
    await kinds(shard, [
      counter(1, 'big', '9007199254740993'),
      counter(2, 'big', '1'),
      counter(1, 'halves', '2251799813685248'),
      counter(2, 'halves', '2251799813685248'),
      counter(3, 'halves', '2251799813685248'),
      counter(4, 'halves', '-1'),
    ]);
    // Assess
    expect(await raw.hmget(shardKeys(shard).meta, 'sum:big', 'sum:halves')).toEqual([
      '9007199254740994',
      '6755399441055743',
    ]);
  });

  it('takes the events it did not apply off the sum the chunk arrives with', async () => {
    // Prepare: the client sends each state's sum of integer deltas over the whole chunk; a
    // duplicate, an event below firstSeq and a rejected one must come off it, however large.
    const shard = uniqueShard();
    const counter = (scope: string, seq: number, value: string, key = 'coins') =>
      guardedEvent({
        shard,
        scope,
        seq,
        offset: seq,
        mutation: mutation('hincrby', { key, field: 'alice', delta: value }),
      });
    await raw.set(stateKey(shard, 'broken'), 'a string');
    await kinds(shard, [counter('a', 1, '-9007199254740993'), counter('b', 1, '5')]);
    // Act
    const outcomes = await kinds(shard, [
      counter('a', 1, '-9007199254740993'), // duplicate, beyond 2^53
      counter('b', 2, '7'),
      counter('d', 0, '100'), // below firstSeq, in a scope with no cursor
      counter('c', 1, '3', 'broken'), // wrong type: its state holds a string
      counter('c', 2, '4', 'broken'),
    ]);
    const allDuplicates = await kinds(shard, [counter('b', 1, '5'), counter('b', 2, '7')]);
    // Assess
    expect(outcomes).toEqual(['duplicate', 'applied', 'rejected', 'rejected', 'rejected']);
    expect(allDuplicates).toEqual(['duplicate', 'duplicate']);
    expect(await raw.hgetall(shardKeys(shard).meta)).toEqual({
      'n:coins': '3',
      'sum:coins': '-9007199254740981',
      applied: '3',
      layout: '1',
      streamFormat: '3',
    });
  });

  it('adds deltas that are not integers, or too large to sum exactly, one by one', async () => {
    // Prepare: a fraction, and two deltas whose sizes add up to 2^63.
    const shard = uniqueShard();
    const event = (scope: string, seq: number, op: 'zincrby' | 'hincrby', value: string) =>
      guardedEvent({
        shard,
        scope,
        seq,
        offset: seq,
        mutation:
          op === 'zincrby'
            ? mutation(op, { key: 'board', member: scope, delta: value })
            : mutation(op, { key: 'coins', field: scope, delta: value }),
      });
    const chunk = [
      event('a', 1, 'zincrby', '2'),
      event('a', 2, 'zincrby', '0.25'),
      event('b', 1, 'hincrby', '4611686018427387904'),
      event('c', 1, 'hincrby', '4611686018427387904'),
    ];
    // Act
    const first = await kinds(shard, chunk);
    const again = await kinds(shard, [...chunk, event('a', 3, 'zincrby', '1.5')]);
    // Assess
    expect(first).toEqual(['applied', 'applied', 'applied', 'applied']);
    expect(again).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate', 'applied']);
    expect(await raw.hgetall(shardKeys(shard).meta)).toMatchObject({
      'n:board': '3',
      'sum:board': '3.75',
      'n:coins': '2',
      'sum:coins': '9223372036854775808',
    });
  });

  it("keeps a total's fraction when a delta near 2^63 of the same state is not applied", async () => {
    // Prepare: a leaderboard of halves; then a chunk whose exact given sum holds a delta near
    // 2^63 that Redis refuses (a hincrby on the zset: WRONGTYPE). Found by fuzzing
    // (tools/fuzz/regressions/guard-differential/fraction-lost-in-running-total): the delta went
    // in and out of HINCRBYFLOAT's long double, and 48.5 became 49.
    const shard = uniqueShard();
    const on = (scope: string, m: ReturnType<typeof mutation>) =>
      guardedEvent({ shard, scope, seq: 1, offset: 1, mutation: m });
    await kinds(shard, [
      on('a', mutation('zincrby', { key: 'board', member: 'a', delta: '48.5' })),
    ]);
    // Act
    const outcomes = await kinds(shard, [
      on('b', mutation('zmax', { key: 'board', member: 'b', score: '1' })),
      on('c', mutation('hincrby', { key: 'board', field: 'c', delta: '9223372036854775807' })),
    ]);
    // Assess
    expect(outcomes).toEqual(['applied', 'rejected']);
    expect(await raw.hmget(shardKeys(shard).meta, 'n:board', 'sum:board')).toEqual(['2', '48.5']);
  });

  it('appends one stream entry per applied event with its coordinates', async () => {
    const shard = uniqueShard();
    await kinds(shard, [
      seqEvent(shard, 1, 40, '2'),
      seqEvent(shard, 1, 41, '2'),
      seqEvent(shard, 3, 42, '4'),
    ]);
    await kinds(shard, [seqEvent(shard, 2, 43, '3')]);
    const fields = await streamEntries(raw, shardKeys(shard).stream);
    expect(fields).toEqual([
      expect.objectContaining({
        scope: 's:scope-a',
        seq: '1',
        tp: 'events-0',
        offset: '40',
        args: ['player-1', '2'],
        op: 'zincrby',
      }),
      expect.objectContaining({ seq: '3', offset: '42', args: ['player-1', '4'] }),
      expect.objectContaining({ seq: '2', offset: '43', args: ['player-1', '3'], late: true }),
    ]);
    expect(fields[0]).toMatchObject({
      keys: ['leaderboard'],
      ts: '1700000000000',
      refused: undefined,
    });
  });

  it('trims the stream by length and by age', async () => {
    const shard = uniqueShard();
    const events = Array.from({ length: 400 }, (_, i) => seqEvent(shard, i + 1, i));
    await applyChunk(redis, shard, events, { ...options, streamMaxLen: 100 });
    const length = await raw.xlen(shardKeys(shard).stream);
    // MAXLEN ~ trims whole radix-tree nodes (100 entries by default): at least the cap is kept.
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(300);

    const aged = uniqueShard();
    for (let i = 1; i <= 200; i++) await raw.xadd(shardKeys(aged).stream, `${i}-0`, 'old', '1');
    await applyChunk(redis, aged, [seqEvent(aged, 1, 0)], { ...options, streamMaxAgeMs: 60_000 });
    const ids = (await raw.xrange(shardKeys(aged).stream, '-', '+')).map(([id]) => id);
    // MINID ~ removes whole nodes older than the limit: both full nodes of old entries go.
    expect(ids.length).toBeLessThanOrEqual(100);
    expect(ids).not.toContain('1-0');
    expect(Number(ids.at(-1)?.split('-')[0])).toBeGreaterThan(Date.now() - 60_000);
  });

  it('keeps the highest guarded offset per topic-partition as the checkpoint', async () => {
    const shard = uniqueShard();
    await kinds(shard, [seqEvent(shard, 1, 7), seqEvent(shard, 2, 9)]);
    await kinds(shard, [seqEvent(shard, 1, 7)]);
    expect(await raw.hget(shardKeys(shard).offsets, 'events-0')).toBe('9');
  });

  it('raises no checkpoint to the offset of a rejected event', async () => {
    const shard = uniqueShard();
    const onPartition = (seq: number, offset: number, partition: number, scope = 'scope-a') =>
      guardedEvent({
        shard,
        scope,
        seq,
        offset,
        partition,
        mutation: mutation('zincrby', { key: 'leaderboard', member: 'player-1', delta: '1' }),
      });
    // Partition 0: applied at 7, rejected (below firstSeq) at 9 and 11, a duplicate at 10.
    // Partition 1: only a rejected event. Partition 2: rejected at 3, then applied at 2 and 5.
    const result = await kinds(shard, [
      onPartition(1, 7, 0),
      onPartition(0, 9, 0, 'scope-b'),
      onPartition(1, 10, 0),
      onPartition(0, 11, 0, 'scope-c'),
      onPartition(0, 4, 1, 'scope-d'),
      onPartition(0, 3, 2, 'scope-e'),
      onPartition(2, 2, 2),
      onPartition(3, 5, 2),
    ]);
    expect(result).toEqual([
      'applied',
      'rejected',
      'duplicate',
      'rejected',
      'rejected',
      'rejected',
      'applied',
      'applied',
    ]);
    expect(await raw.hgetall(shardKeys(shard).offsets)).toEqual({
      'events-0': '10',
      'events-2': '5',
    });
    // A later chunk below the checkpoint leaves it.
    await kinds(shard, [onPartition(1, 8, 0)]);
    expect(await raw.hget(shardKeys(shard).offsets, 'events-0')).toBe('10');
  });

  it('rejects an event whose state key holds another type, leaving no trace of it', async () => {
    const shard = uniqueShard();
    await raw.set(stateKey(shard, 'leaderboard'), 'not a sorted set');
    const outcomes = await applyChunk(redis, shard, [seqEvent(shard, 1, 0)], options);
    expect(outcomes).toEqual([expect.objectContaining({ kind: 'rejected', reason: 'wrongType' })]);
    const keys = shardKeys(shard);
    expect(await raw.exists(keys.cursors, keys.stream, keys.meta, keys.gaps)).toBe(0);

    await raw.hset(stateKey(shard, 'coins'), 'alice', 'abc');
    const counter = guardedEvent({
      shard,
      seq: 1,
      offset: 1,
      mutation: mutation('hincrby', { key: 'coins', field: 'alice', delta: '1' }),
    });
    expect(await applyChunk(redis, shard, [counter], options)).toEqual([
      expect.objectContaining({ kind: 'rejected', reason: 'mutationFailed' }),
    ]);
  });

  it('refuses the whole chunk when a bookkeeping key was overwritten', async () => {
    const shard = uniqueShard();
    await raw.set(shardKeys(shard).cursors, 'oops');
    await expect(applyChunk(redis, shard, [seqEvent(shard, 1, 0)], options)).rejects.toBeInstanceOf(
      RedisLayoutError,
    );
    expect(await raw.exists(stateKey(shard, 'leaderboard'), shardKeys(shard).stream)).toBe(0);
  });

  it('reports an unreachable Redis as RedisUnavailableError', async () => {
    const dead = createRedisClient({
      url: 'redis://127.0.0.1:1',
      cluster: false,
      commandTimeoutMs: 200,
    });
    try {
      const shard = uniqueShard();
      await expect(
        applyChunk(dead, shard, [seqEvent(shard, 1, 0)], options),
      ).rejects.toBeInstanceOf(RedisUnavailableError);
    } finally {
      dead.disconnect();
    }
  });
});

describe('applyChunk() with mutations that refuse', () => {
  const event = (shard: string, seq: number, op: string, data: Record<string, unknown>) =>
    guardedEvent({ shard, scope: 'wallet', seq, offset: seq, mutation: mutation(op, data) });
  const credit = (shard: string, seq: number, delta: number) =>
    event(shard, seq, 'hincrby', { key: 'balances', field: 'alice', delta });
  const payout = (shard: string, seq: number, amount: number) =>
    event(shard, seq, 'debit', { key: 'balances', field: 'alice', amount });

  it('refuses a payout beyond the balance for good: a redelivery after a credit stays refused', async () => {
    // Prepare: alice has 5.
    const shard = uniqueShard();
    await applyChunk(redis, shard, [credit(shard, 1, 5)], options);
    // Act: a payout of 8 is refused; then a credit of 10 lands; then the payout comes again.
    const refused = await applyChunk(redis, shard, [payout(shard, 2, 8)], options);
    await applyChunk(redis, shard, [credit(shard, 3, 10)], options);
    const redelivered = await applyChunk(redis, shard, [payout(shard, 2, 8)], options);
    // Assess
    expect(refused).toEqual([{ kind: 'refused', reason: 'insufficient' }]);
    expect(redelivered).toEqual([{ kind: 'duplicate' }]);
    expect(await raw.hget(stateKey(shard, 'balances'), 'alice')).toBe('15');
    const keys = shardKeys(shard);
    // The seq was consumed, the refusal is in the stream, the totals did not move.
    expect(await raw.hget(keys.cursors, 's:wallet')).toBe('3');
    const entries = await streamEntries(raw, keys.stream);
    expect(entries.map((e) => [e.op, e.args[1], e.refused])).toEqual([
      ['hincrby', '5', undefined],
      ['debit', '8', 'insufficient'],
      ['hincrby', '10', undefined],
    ]);
    expect(await raw.hmget(keys.meta, 'n:balances', 'sum:balances', 'applied')).toEqual([
      '2',
      '15',
      '2',
    ]);
  });

  it('refuses a late payout into a gap and closes the gap all the same', async () => {
    const shard = uniqueShard();
    expect(
      await kinds(shard, [credit(shard, 1, 3), credit(shard, 3, 1), payout(shard, 2, 9)]),
    ).toEqual(['applied', 'gapOpened', 'refused']);
    expect(await gaps(shard)).toEqual([]);
    expect(await raw.hget(stateKey(shard, 'balances'), 'alice')).toBe('4');
  });

  it('moves a transfer both or neither, and refuses it below the floor', async () => {
    // Prepare: alice has 5; bob's field in the escrow key holds text, so HINCRBY would fail.
    const shard = uniqueShard();
    await applyChunk(redis, shard, [credit(shard, 1, 5)], options);
    await raw.hset(stateKey(shard, 'escrow'), 'bob', 'not a number');
    const transfer = (seq: number, data: Record<string, unknown>) =>
      event(shard, seq, 'transfer', { key: 'balances', from: 'alice', ...data });
    // Act
    const outcomes = await kinds(shard, [
      transfer(2, { to: 'bob', toKey: 'escrow', amount: 2 }),
      transfer(3, { to: 'bob', amount: 9 }),
      transfer(4, { to: 'bob', amount: 9, floor: -10 }),
      transfer(5, { to: 'carol', toKey: 'escrow', amount: 1, floor: -10 }),
    ]);
    // Assess: the first is rejected and moved nothing; the second is refused; the third goes
    // below zero, as its floor allows; the fourth moves to the second key, as its floor allows.
    expect(outcomes).toEqual(['rejected', 'refused', 'applied', 'applied']);
    expect(await raw.hgetall(stateKey(shard, 'balances'))).toEqual({ alice: '-5', bob: '9' });
    expect(await raw.hgetall(stateKey(shard, 'escrow'))).toEqual({
      bob: 'not a number',
      carol: '1',
    });
    const meta = await raw.hgetall(shardKeys(shard).meta);
    expect(meta).toMatchObject({ 'n:balances': '3', 'sum:balances': '4', 'n:escrow': '1' });
    expect(meta['sum:escrow']).toBe('1');
  });

  it('keeps best scores, lowest times and set members', async () => {
    const shard = uniqueShard();
    const outcomes = await kinds(shard, [
      event(shard, 1, 'zmax', { key: 'best', member: 'ann', score: 40 }),
      event(shard, 2, 'zmax', { key: 'best', member: 'ann', score: 30 }),
      event(shard, 3, 'zmin', { key: 'laps', member: 'ann', score: 61.5 }),
      event(shard, 4, 'zmin', { key: 'laps', member: 'ann', score: 59.25 }),
      event(shard, 5, 'sadd', { key: 'badges', member: 'gold' }),
      event(shard, 6, 'sadd', { key: 'badges', member: 'silver' }),
      event(shard, 7, 'srem', { key: 'badges', member: 'gold' }),
      event(shard, 8, 'sadd', { key: 'best', member: 'ann' }),
    ]);
    expect(outcomes).toEqual([...Array(7).fill('applied'), 'rejected']);
    expect(await raw.zscore(stateKey(shard, 'best'), 'ann')).toBe('40');
    expect(await raw.zscore(stateKey(shard, 'laps'), 'ann')).toBe('59.25');
    expect(await raw.smembers(stateKey(shard, 'badges'))).toEqual(['silver']);
  });
});
