import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuardedEvent, Mutation } from '../../core/events/types.ts';
import { metaField } from '../../core/layout/codecs.ts';
import { rebuildKey, shardKeys, stateKey } from '../../core/layout/keys.ts';
import { applyChunk, type GuardOptions } from '../../core/redis/apply-batch.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { rebuildState } from '../../tools/rebuild/rebuild.ts';
import { guardedEvent, mutation, uniqueShard } from '../helpers/events.ts';
import {
  projectClient,
  rawCluster as rawClusterOf,
  suiteRedis,
  suiteTarget,
} from '../helpers/redis.ts';

const keyPrefix = 'sg';
const options: GuardOptions = { firstSeq: '1', streamMaxLen: 0, streamMaxAgeMs: 0, keyPrefix };

// KEYS (for the leftovers) is for operators only (-@dangerous): the admin client asks.
const { redis, raw, admin } = suiteRedis();

/** Events of one shard, guarded by offset, one state name per op. */
function eventsOf(shard: string) {
  let offset = 0;
  const next = (mutation: Mutation) =>
    guardedEvent({ shard, seq: null, offset: offset++, mutation });
  return {
    zincrby: (target: string, value: string) =>
      next(mutation('zincrby', { key: 'leaderboard', member: target, delta: value })),
    hincrby: (target: string, value: string) =>
      next(mutation('hincrby', { key: 'coins', field: target, delta: value })),
    hsetIfNewer: (target: string, value: string, version: string) =>
      next(
        mutation('hsetIfNewer', { key: 'profile', field: target, value: value, version: version }),
      ),
  };
}

async function applyAll(client: RedisClient, shard: string, events: GuardedEvent[]) {
  const outcomes = await applyChunk(client, shard, events, options);
  expect(outcomes.map((o) => o.kind)).toEqual(events.map(() => 'applied'));
}

async function zsetOf(client: Redis | Cluster, key: string): Promise<Record<string, string>> {
  const flat = await client.zrange(key, '0', '-1', 'WITHSCORES');
  const result: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) result[flat[i] as string] = flat[i + 1] as string;
  return result;
}

/** Applies events for all three ops to a fresh shard, and returns what they made. */
async function seed(shard: string) {
  const e = eventsOf(shard);
  await applyAll(redis, shard, [
    e.zincrby('ann', '5'),
    e.hincrby('alice', '10'),
    e.zincrby('bob', '0.1'),
    e.hsetIfNewer('name', 'old', '5'),
    e.zincrby('ann', '2.5'),
    e.zincrby('bob', '0.2'),
    e.hincrby('bob', '4611686018427387904'),
    e.hsetIfNewer('name', 'newest', '9'),
    // Applied (and appended to the stream), but stale: it must not win in the rebuild either.
    e.hsetIfNewer('name', 'stale', '7'),
    e.hsetIfNewer('city', 'Oslo', '1'),
    e.zincrby('cid', '1'),
    e.hincrby('alice', '-3'),
    e.hincrby('bob', '4611686018427387903'),
  ]);
  return {
    e,
    leaderboard: { ann: '7.5', bob: '0.30000000000000004', cid: '1' },
    coins: { alice: '7', bob: '9223372036854775807' },
    profile: { name: 'newest', city: 'Oslo' },
  };
}

const rebuild = (shard: string, name: string, extra = {}) =>
  rebuildState(redis, { shard, name, keyPrefix, ...extra });

const leftovers = (shard: string, name: string) => admin.keys(rebuildKey(shard, name, '*'));

describe('rebuildState()', () => {
  it('rebuilds each state exactly as the events made it, undoing writes around the pipeline', async () => {
    // Prepare
    const shard = uniqueShard('rebuild');
    const expected = await seed(shard);
    const board = stateKey(shard, 'leaderboard');
    await raw.zincrby(board, 100, 'ann');
    await raw.zrem(board, 'cid');
    await raw.zadd(board, 42, 'intruder');
    await raw.hset(stateKey(shard, 'coins'), 'alice', '999');
    await raw.hdel(stateKey(shard, 'coins'), 'bob');
    await raw.hset(stateKey(shard, 'profile'), 'name', 'stale');

    // Act: pages and write batches of 2, so the fold crosses pages and entries of other names.
    const small = { pageSize: 2, writeBatchSize: 2 };
    const results = [
      await rebuild(shard, 'leaderboard', small),
      await rebuild(shard, 'coins', small),
      await rebuild(shard, 'profile', small),
    ];

    // Assess
    expect(results).toEqual([
      { kind: 'rebuilt', entries: 5, targets: 3, changedTargets: 3, entriesAtSwap: 0 },
      { kind: 'rebuilt', entries: 4, targets: 2, changedTargets: 2, entriesAtSwap: 0 },
      { kind: 'rebuilt', entries: 4, targets: 2, changedTargets: 1, entriesAtSwap: 0 },
    ]);
    expect(await zsetOf(raw, board)).toEqual(expected.leaderboard);
    expect(await raw.hgetall(stateKey(shard, 'coins'))).toEqual(expected.coins);
    expect(await raw.hgetall(stateKey(shard, 'profile'))).toEqual(expected.profile);
    expect(await raw.pttl(board)).toBe(-1);
    expect(await leftovers(shard, 'leaderboard')).toEqual([]);
    expect(await leftovers(shard, 'profile')).toEqual([]);
  });

  it('restores a deleted state key, and deletes a state no event made', async () => {
    // Prepare
    const shard = uniqueShard('rebuild');
    const expected = await seed(shard);
    await raw.del(stateKey(shard, 'coins'));
    await raw.hset(stateKey(shard, 'never'), 'x', '1');
    await raw.hset(shardKeys(shard).meta, metaField.count('never'), '0');

    // Act
    const coins = await rebuild(shard, 'coins');
    const never = await rebuild(shard, 'never');

    // Assess
    expect(coins).toMatchObject({ kind: 'rebuilt', targets: 2, changedTargets: 2 });
    expect(await raw.hgetall(stateKey(shard, 'coins'))).toEqual(expected.coins);
    expect(never).toEqual({
      kind: 'rebuilt',
      entries: 0,
      targets: 0,
      changedTargets: 1,
      entriesAtSwap: 0,
    });
    expect(await raw.exists(stateKey(shard, 'never'))).toBe(0);
  });

  it('keeps the events applied between the fold and the swap', async () => {
    // Prepare
    const shard = uniqueShard('rebuild');
    const { e } = await seed(shard);
    await raw.zincrby(stateKey(shard, 'leaderboard'), 100, 'ann');
    await raw.hset(stateKey(shard, 'profile'), 'city', 'Rome');

    // Act: the guard applies events while the rebuild has folded but not swapped yet.
    const board = await rebuild(shard, 'leaderboard', {
      beforeSwap: () => applyAll(redis, shard, [e.zincrby('ann', '1'), e.zincrby('dan', '4')]),
    });
    const profile = await rebuild(shard, 'profile', {
      beforeSwap: () =>
        applyAll(redis, shard, [
          e.hsetIfNewer('name', 'stale again', '8'),
          e.hsetIfNewer('city', 'Bergen', '2'),
          e.hsetIfNewer('city', 'Tromsø', '1'),
          e.hsetIfNewer('mood', 'calm', '3'),
        ]),
    });

    // Assess
    expect(board).toEqual({
      kind: 'rebuilt',
      entries: 7,
      targets: 4,
      changedTargets: 1,
      entriesAtSwap: 2,
    });
    expect(await zsetOf(raw, stateKey(shard, 'leaderboard'))).toEqual({
      ann: '8.5',
      bob: '0.30000000000000004',
      cid: '1',
      dan: '4',
    });
    // city was corrupted, then set by a newer version in the tail: the swap saw no drift left.
    expect(profile).toEqual({
      kind: 'rebuilt',
      entries: 8,
      targets: 3,
      changedTargets: 0,
      entriesAtSwap: 4,
    });
    expect(await raw.hgetall(stateKey(shard, 'profile'))).toEqual({
      name: 'newest',
      city: 'Bergen',
      mood: 'calm',
    });
  });

  it('refuses when the stream was trimmed, and leaves the live state untouched', async () => {
    // Prepare
    const shard = uniqueShard('rebuild');
    await seed(shard);
    await raw.zincrby(stateKey(shard, 'leaderboard'), 100, 'ann');
    const before = await zsetOf(raw, stateKey(shard, 'leaderboard'));
    await raw.xtrim(shardKeys(shard).stream, 'MAXLEN', 4);

    // Act
    const result = await rebuild(shard, 'leaderboard');

    // Assess
    expect(result).toMatchObject({
      kind: 'refused',
      reason: 'streamTrimmed',
      streamEntries: 1,
      appliedEvents: 5,
    });
    expect(result.kind === 'refused' && result.message).toMatch(/trimmed.*replay from Kafka/s);
    expect(await zsetOf(raw, stateKey(shard, 'leaderboard'))).toEqual(before);
    expect(await leftovers(shard, 'leaderboard')).toEqual([]);
  });

  it('refuses at the swap when the stream is trimmed while it runs, and deletes its fresh key', async () => {
    // Prepare
    const shard = uniqueShard('rebuild');
    const { e } = await seed(shard);
    const stream = shardKeys(shard).stream;

    // Act: events arrive after the fold, and the stream loses them before the swap.
    const result = await rebuild(shard, 'leaderboard', {
      beforeSwap: async () => {
        await applyAll(redis, shard, [e.zincrby('ann', '1')]);
        await raw.xtrim(stream, 'MAXLEN', 0);
      },
    });

    // Assess
    expect(result).toMatchObject({ kind: 'refused', reason: 'streamTrimmed', appliedEvents: 6 });
    expect(await raw.zscore(stateKey(shard, 'leaderboard'), 'ann')).toBe('8.5');
    expect(await leftovers(shard, 'leaderboard')).toEqual([]);
  });

  it('never double-counts: a second rebuild finds nothing to change', async () => {
    // Prepare
    const shard = uniqueShard('rebuild');
    const expected = await seed(shard);

    // Act
    const first = await rebuild(shard, 'leaderboard');
    const second = await rebuild(shard, 'leaderboard');
    const third = await rebuild(shard, 'coins');

    // Assess
    expect(first).toMatchObject({ kind: 'rebuilt', changedTargets: 0 });
    expect(second).toMatchObject({ kind: 'rebuilt', changedTargets: 0 });
    expect(third).toMatchObject({ kind: 'rebuilt', changedTargets: 0 });
    expect(await zsetOf(raw, stateKey(shard, 'leaderboard'))).toEqual(expected.leaderboard);
    expect(await raw.hgetall(stateKey(shard, 'coins'))).toEqual(expected.coins);
  });

  it('refuses to empty a state whose applied events are not recorded at all', async () => {
    // Prepare
    const shard = uniqueShard('rebuild');
    await raw.zadd(stateKey(shard, 'orphan'), 1, 'x');

    // Act
    const result = await rebuild(shard, 'orphan');

    // Assess
    expect(result).toMatchObject({ kind: 'refused', reason: 'nothingRecorded' });
    expect(await zsetOf(raw, stateKey(shard, 'orphan'))).toEqual({ x: '1' });
  });

  it('deletes its fresh keys and leaves the live state when it fails before the swap', async () => {
    // Prepare
    const shard = uniqueShard('rebuild');
    await seed(shard);
    await raw.hset(stateKey(shard, 'profile'), 'name', 'stale');

    // Act
    const result = rebuild(shard, 'profile', {
      beforeSwap: () => Promise.reject(new Error('the rebuild dies here')),
    });

    // Assess
    await expect(result).rejects.toThrow('the rebuild dies here');
    expect(await raw.hget(stateKey(shard, 'profile'), 'name')).toBe('stale');
    expect(await leftovers(shard, 'profile')).toEqual([]);
  });
});

/** Events of the newer built-ins on one shard, by offset. */
function walletEvents(shard: string, firstOffset = 0) {
  let offset = firstOffset;
  return (op: string, data: Record<string, unknown>) =>
    guardedEvent({ shard, seq: null, offset: offset++, mutation: mutation(op, data) });
}

/** Wallets and escrow moved by credits, debits (one refused) and transfers across two keys. */
async function seedWallets(client: RedisClient, shard: string) {
  const event = walletEvents(shard);
  const outcomes = await applyChunk(
    client,
    shard,
    [
      event('hincrby', { key: 'wallets', field: 'ann', delta: 50 }),
      event('transfer', { key: 'wallets', from: 'ann', to: 'ann', toKey: 'escrow', amount: 20 }),
      event('debit', { key: 'wallets', field: 'ann', amount: 100 }),
      event('transfer', { key: 'escrow', from: 'ann', to: 'bob', toKey: 'wallets', amount: 5 }),
      event('debit', { key: 'wallets', field: 'ann', amount: 10 }),
      event('sadd', { key: 'badges', member: 'gold' }),
      event('sadd', { key: 'badges', member: 'silver' }),
      event('srem', { key: 'badges', member: 'gold' }),
    ],
    options,
  );
  expect(outcomes.map((o) => o.kind)).toEqual([
    'applied',
    'applied',
    'refused',
    ...Array(5).fill('applied'),
  ]);
  return walletEvents(shard, 100);
}

describe('rebuildState() with transfers, refusals and sets', () => {
  it('rebuilds a counter hash that transfers reach from another key, with one in the tail', async () => {
    // Prepare: wallets hold ann 20, bob 5; escrow holds ann 15. Something writes around.
    const shard = uniqueShard('rebuild');
    const event = await seedWallets(redis, shard);
    await raw.hset(stateKey(shard, 'wallets'), 'ann', 999);
    // Act: a transfer from escrow lands while the rebuild of wallets runs.
    const result = await rebuild(shard, 'wallets', {
      beforeSwap: () =>
        applyAll(redis, shard, [
          event('transfer', { key: 'escrow', from: 'ann', to: 'cy', toKey: 'wallets', amount: 7 }),
        ]),
    });
    // Assess: the refused debit is in the stream but not folded.
    expect(result).toEqual({
      kind: 'rebuilt',
      entries: 5,
      targets: 3,
      changedTargets: 1,
      entriesAtSwap: 1,
    });
    expect(await raw.hgetall(stateKey(shard, 'wallets'))).toEqual({ ann: '20', bob: '5', cy: '7' });
    // The far side of the tail's transfer was not touched, and no scratch key is left.
    expect(await raw.hgetall(stateKey(shard, 'escrow'))).toEqual({ ann: '8' });
    expect(await admin.keys(`{${keyPrefix}:${shard}}:rebuild*`)).toEqual([]);
  });

  it('rebuilds a set, and the escrow side of the transfers', async () => {
    const shard = uniqueShard('rebuild');
    await seedWallets(redis, shard);
    await raw.sadd(stateKey(shard, 'badges'), 'forged');
    await raw.hdel(stateKey(shard, 'escrow'), 'ann');
    expect(await rebuild(shard, 'badges')).toMatchObject({ kind: 'rebuilt', targets: 1 });
    expect(await raw.smembers(stateKey(shard, 'badges'))).toEqual(['silver']);
    expect(await rebuild(shard, 'escrow')).toMatchObject({ kind: 'rebuilt', changedTargets: 1 });
    expect(await raw.hgetall(stateKey(shard, 'escrow'))).toEqual({ ann: '15' });
  });
});

describe('rebuildState() on a Redis Cluster', () => {
  let cluster: RedisClient;
  let rawCluster: Cluster;

  beforeAll(() => {
    cluster = projectClient(suiteTarget('cluster'));
    rawCluster = rawClusterOf(suiteTarget('cluster'));
  });
  afterAll(() => {
    cluster.disconnect();
    rawCluster.disconnect();
  });

  it('rebuilds in the shard slot, with events applied before the swap', async () => {
    // Prepare
    const shard = uniqueShard('{tag}:rebuild');
    const e = eventsOf(shard);
    const board = stateKey(shard, 'leaderboard');
    await applyAll(cluster, shard, [e.zincrby('ann', '5'), e.zincrby('bob', '2')]);
    await rawCluster.zadd(board, 1, 'ann');

    // Act
    const result = await rebuildState(cluster, {
      shard,
      name: 'leaderboard',
      keyPrefix,
      beforeSwap: () => applyAll(cluster, shard, [e.zincrby('bob', '3')]),
    });

    // Assess
    expect(result).toEqual({
      kind: 'rebuilt',
      entries: 3,
      targets: 2,
      changedTargets: 1,
      entriesAtSwap: 1,
    });
    expect(await zsetOf(rawCluster, board)).toEqual({ ann: '5', bob: '5' });
  });

  it('applies a tail transfer from another key in the shard slot, its scratch key too', async () => {
    const shard = uniqueShard('{tag}:rebuild');
    const event = await seedWallets(cluster, shard);
    const result = await rebuildState(cluster, {
      shard,
      name: 'wallets',
      keyPrefix,
      beforeSwap: () =>
        applyAll(cluster, shard, [
          event('transfer', { key: 'escrow', from: 'ann', to: 'cy', toKey: 'wallets', amount: 7 }),
        ]),
    });
    expect(result).toMatchObject({ kind: 'rebuilt', entries: 5, entriesAtSwap: 1 });
    expect(await rawCluster.hgetall(stateKey(shard, 'wallets'))).toEqual({
      ann: '20',
      bob: '5',
      cy: '7',
    });
  });
});
