/**
 * The wait for replicas (SEQGUARD_REDIS_WAIT_REPLICAS) on a real redis-server with one replica
 * (`--replicaof`): every write the sink reports as done is acknowledged by the replica first,
 * and a write no replica acknowledged in time fails with RedisNotReplicatedError.
 * WAIT: https://redis.io/docs/latest/commands/wait/
 */

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisNotReplicatedError } from '../../core/errors.ts';
import type { GuardedEvent } from '../../core/events/types.ts';
import { shardKeys } from '../../core/layout/keys.ts';
import { applyChunk, type GuardOptions } from '../../core/redis/apply-batch.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { appendDeadLetters } from '../../core/redis/dead-letter.ts';
import { advanceLedger } from '../../core/redis/ledger.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import { mutation } from '../helpers/events.ts';
import { projectClient, rawRedis, startTestRedisServer, targetOf } from '../helpers/redis.ts';

let primary: RedisServer;
let replica: RedisServer;
let redis: RedisClient;
let replicaClient: Redis;

beforeAll(async () => {
  primary = await startTestRedisServer();
  // The replica has its master's users: it logs in to it as the admin user, over TLS if secure.
  replica = await startTestRedisServer({
    ...(primary.access ? { access: primary.access } : {}),
    args: ['--replicaof', '127.0.0.1', String(primary.port)],
  });
  redis = projectClient(await targetOf(primary), { commandTimeoutMs: 2_000 });
  replicaClient = rawRedis(await targetOf(replica));
  await vi.waitFor(
    async () => {
      if (!/slave0:.*state=online/.test(await redis.info('replication')))
        throw new Error('the replica did not sync');
    },
    { timeout: 20_000, interval: 50 },
  );
});

afterAll(async () => {
  replica?.thaw();
  redis?.disconnect();
  replicaClient?.disconnect();
  await replica?.dispose();
  await primary?.dispose();
});

const wait = { replicas: 1, timeoutMs: 200 };

function options(): GuardOptions {
  return {
    firstSeq: '1',
    streamMaxLen: 0,
    streamMaxAgeMs: 0,
    keyPrefix: `w${randomBytes(4).toString('hex')}`,
    replicaWait: wait,
  };
}

const event = (seq: number): GuardedEvent => ({
  shard: 'board',
  sequence: { scope: 'alice', seq: String(seq) },
  mutation: mutation('zincrby', { key: 'leaderboard', member: 'alice', delta: '1' }),
  record: { topic: 't', partition: 0, offset: String(seq), timestamp: 1_700_000_000_000 },
});

const record = (offset: number) => ({
  topic: 't',
  partition: 0,
  offset,
  timestamp: 1_700_000_000_000,
  timestampType: 'CREATE_TIME' as const,
  key: '',
  value: 'bm90IGpzb24=',
  headers: [],
});

describe('writes that wait for a replica', () => {
  it('reports a chunk applied only once the replica holds it', async () => {
    // Prepare
    const guard = options();
    // Act
    const outcomes = await applyChunk(redis, 'board', [event(1)], guard);
    // Assess: no time for replication to catch up on its own: WAIT made sure it had.
    expect(outcomes).toEqual([{ kind: 'applied' }]);
    expect(await replicaClient.hget(shardKeys('board', guard.keyPrefix).cursors, 's:alice')).toBe(
      '1',
    );
  });

  it('fails a chunk, a dead-letter append and a ledger advance no replica acknowledged', async () => {
    // Prepare
    const guard = options();
    replica.freeze();
    try {
      // Act + Assess
      await expect(applyChunk(redis, 'board', [event(1)], guard)).rejects.toBeInstanceOf(
        RedisNotReplicatedError,
      );
      await expect(
        appendDeadLetters(
          redis,
          [{ record: record(1), reason: 'junk' }],
          guard.keyPrefix,
          {},
          wait,
        ),
      ).rejects.toBeInstanceOf(RedisNotReplicatedError);
      await expect(
        advanceLedger(
          redis,
          't-0',
          { from: 0n, to: 1n, shards: new Map([['board', 1n]]), deadLettered: undefined },
          guard.keyPrefix,
          wait,
        ),
      ).rejects.toBeInstanceOf(RedisNotReplicatedError);
    } finally {
      replica.thaw();
    }
    // The write did land on the primary: a retry is a duplicate to the guard, and succeeds.
    expect(await applyChunk(redis, 'board', [event(1)], guard)).toEqual([{ kind: 'duplicate' }]);
  });
});
