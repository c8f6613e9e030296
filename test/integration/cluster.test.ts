/**
 * The guard on a real Redis Cluster of 3 masters: every key of a shard in one slot, shards
 * spread over the nodes, names with hash-tag characters.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterKeys, shardKeys, stateKey } from '../../core/layout/keys.ts';
import { applyChunk, type GuardOptions } from '../../core/redis/apply-batch.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { appendDeadLetters } from '../../core/redis/dead-letter.ts';
import { guardedEvent, mskRecord, mutation, uniqueShard } from '../helpers/events.ts';
import { projectClient, rawCluster, suiteTarget } from '../helpers/redis.ts';

const options: GuardOptions = {
  firstSeq: '1',
  streamMaxLen: 1000,
  streamMaxAgeMs: 0,
  keyPrefix: 'sg',
};

let redis: RedisClient;
let raw: Cluster;
/** CLUSTER KEYSLOT is no command of the app user's: the admin user asks. */
let admin: Cluster;

beforeAll(() => {
  redis = projectClient(suiteTarget('cluster'));
  raw = rawCluster(suiteTarget('cluster'));
  admin = rawCluster(suiteTarget('cluster'), 'admin');
});
afterAll(() => {
  redis.disconnect();
  raw.disconnect();
  admin.disconnect();
});

async function slotOf(key: string): Promise<number> {
  return Number(await admin.cluster('KEYSLOT', key));
}

describe('applyChunk() on a Redis Cluster', () => {
  it('keeps every key of a shard in one slot, whatever the shard and state names hold', async () => {
    for (const shard of [
      'plain',
      'with{brace',
      'with}brace',
      '{tag}',
      'a:b:c',
      '}{',
      '%7B',
      'ünïcödé ✓',
    ]) {
      const keys = [
        ...Object.values(shardKeys(shard)),
        stateKey(shard, 'board'),
        stateKey(shard, '{other}'),
        stateKey(shard, 'x:y}'),
      ];
      const slots = new Set(await Promise.all(keys.map(slotOf)));
      expect(slots.size, `shard ${shard}`).toBe(1);
    }
  });

  it('applies shards that live on different masters, each exactly once', async () => {
    const shards = Array.from({ length: 24 }, () => uniqueShard('cluster'));
    const event = (shard: string, seq: number) =>
      guardedEvent({
        shard,
        seq,
        offset: seq,
        mutation: mutation('zincrby', { key: 'board', member: 'p', delta: '2' }),
      });

    for (const shard of shards) {
      const outcomes = await applyChunk(
        redis,
        shard,
        [event(shard, 1), event(shard, 2), event(shard, 1)],
        options,
      );
      expect(outcomes.map((o) => o.kind)).toEqual(['applied', 'applied', 'duplicate']);
    }
    for (const shard of shards) {
      expect(await raw.zscore(stateKey(shard, 'board'), 'p')).toBe('4');
      expect(await raw.xlen(shardKeys(shard).stream)).toBe(2);
    }
    // The shards really are spread over the masters.
    const ranges = (await raw.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    expect(ranges.map((r) => r[2][1]).filter((p, i, all) => all.indexOf(p) === i)).toHaveLength(3);
    const owners = new Set<number>();
    for (const shard of shards) {
      const slot = await slotOf(shardKeys(shard).cursors);
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      owners.add(range?.[2][1] as number);
    }
    expect(owners.size).toBeGreaterThanOrEqual(2);
  });

  it("applies every built-in mutation in its shard's slot, a transfer across two keys too", async () => {
    // Prepare: one event of each built-in, on shards spread over the masters.
    const shards = Array.from({ length: 6 }, () => uniqueShard('cluster-ops'));
    for (const shard of shards) {
      let seq = 0;
      const event = (op: string, data: Record<string, unknown>) =>
        guardedEvent({ shard, seq: ++seq, offset: seq, mutation: mutation(op, data) });
      // Act
      const outcomes = await applyChunk(
        redis,
        shard,
        [
          event('hincrby', { key: 'wallets', field: 'a', delta: 10 }),
          event('debit', { key: 'wallets', field: 'a', amount: 3 }),
          event('debit', { key: 'wallets', field: 'a', amount: 30 }),
          event('transfer', { key: 'wallets', from: 'a', to: 'b', toKey: 'escrow', amount: 4 }),
          event('hsetIfNewer', { key: 'profile', field: 'name', value: 'Ann', version: 1 }),
          event('zincrby', { key: 'board', member: 'p', delta: 2 }),
          event('zmax', { key: 'best', member: 'p', score: 9 }),
          event('zmin', { key: 'laps', member: 'p', score: 9 }),
          event('sadd', { key: 'badges', member: 'gold' }),
          event('srem', { key: 'badges', member: 'gold' }),
        ],
        options,
      );
      // Assess
      expect(outcomes.map((o) => o.kind)).toEqual([
        'applied',
        'applied',
        'refused',
        ...Array(7).fill('applied'),
      ]);
      expect(await raw.hgetall(stateKey(shard, 'wallets'))).toEqual({ a: '3' });
      expect(await raw.hgetall(stateKey(shard, 'escrow'))).toEqual({ b: '4' });
      expect(await raw.xlen(shardKeys(shard).stream)).toBe(10);
    }
  });

  it('applies a shard whose name holds hash-tag characters', async () => {
    const shard = `{evil}:${uniqueShard()}}{`;
    const outcomes = await applyChunk(
      redis,
      shard,
      [
        guardedEvent({
          shard,
          seq: 1,
          offset: 0,
          mutation: mutation('hincrby', { key: 'a}{b', field: 'f', delta: '3' }),
        }),
      ],
      options,
    );
    expect(outcomes).toEqual([{ kind: 'applied' }]);
    expect(await raw.hget(stateKey(shard, 'a}{b'), 'f')).toBe('3');
  });

  it('dead-letters into its own slot on a cluster', async () => {
    const topic = uniqueShard('dlq-topic');
    const letters = [
      { record: mskRecord({ topic, offset: 3, value: 'not json' }), reason: 'value is not JSON' },
    ];
    expect(await appendDeadLetters(redis, letters, 'sg')).toEqual([{ kind: 'appended' }]);
    expect(await appendDeadLetters(redis, letters, 'sg')).toEqual([{ kind: 'alreadyThere' }]);
    const keys = deadLetterKeys('sg');
    expect(await slotOf(keys.stream)).toBe(await slotOf(keys.offsets));
  });
});
