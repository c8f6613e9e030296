/**
 * The read side's tests (core/reading): a bench of events of a few kinds applied through the
 * real sink core and its Redis ports, one shard, partition 0 of topic `scores` at offsets 0, 1,
 * 2, …, on a key prefix of its own, with a reader of that prefix; where the tests run (a
 * redis-server or a cluster of the file's own), a node restarted empty, the leaderboard as Redis
 * holds it.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { MSKRecord } from 'aws-lambda';
import { expect } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { type Position, positionOf } from '../../core/events/position.ts';
import { stateKey } from '../../core/layout/keys.ts';
import { createReader, type Reader } from '../../core/reading/reader.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { applyRecords, type BatchSummary } from '../../core/sink/apply-records.ts';
import { createSinkPorts } from '../../core/sink/redis-ports.ts';
import { type RedisCluster, waitForClusterOk } from '../../local/emulators/redis/cluster.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import { mskEvent, mskRecord } from './events.ts';
import {
  projectClient,
  type RedisTarget,
  redisEnv,
  startTestRedisCluster,
  startTestRedisServer,
} from './redis.ts';

export const topic = 'scores';
export const board = 'leaderboard';

export type ReadEvent =
  | { type: 'zincrby'; member: string; delta: number }
  | { type: 'hincrby'; field: string; delta: number }
  | { type: 'debit'; field: string; amount: number }
  | { type: 'sadd'; member: string };

function dataOf(event: ReadEvent): Record<string, unknown> {
  switch (event.type) {
    case 'zincrby':
      return { key: board, member: event.member, delta: event.delta };
    case 'hincrby':
      return { key: 'balances', field: event.field, delta: event.delta };
    case 'debit':
      return { key: 'balances', field: event.field, amount: event.amount };
    case 'sadd':
      return { key: 'badges', member: event.member };
  }
}

export interface ReadBench {
  redis: RedisClient;
  reader: Reader;
  prefix: string;
  shard: string;
  /** Applies one event per entry through the sink core, at the next offsets; its position. */
  apply(events: ReadEvent[]): Promise<Position>;
  /** The summary of the last apply. */
  last?: BatchSummary;
  close(): void;
}

export const freshPrefix = () => `r${randomBytes(4).toString('hex')}`;

export function readBench(
  target: RedisTarget,
  shard: string,
  keyPrefix = freshPrefix(),
): ReadBench {
  const sink = loadSinkConfig({
    ...redisEnv(target),
    SEQGUARD_FORMAT: 'envelope',
    SEQGUARD_KEY_PREFIX: keyPrefix,
  });
  const redis = projectClient(target);
  const ports = createSinkPorts(redis, sink.guard);
  const reader = createReader(redis, { keyPrefix, topics: [topic] });
  let next = 0;
  const bench: ReadBench = {
    redis,
    prefix: keyPrefix,
    shard,
    reader,
    async apply(events) {
      const records: MSKRecord[] = events.map((event) => {
        const offset = next++;
        return mskRecord({
          topic,
          partition: 0,
          offset,
          value: {
            id: `e${offset}`,
            scope: `s${offset}`,
            seq: 1,
            shard,
            type: event.type,
            data: dataOf(event),
          },
        });
      });
      const { summary } = await applyRecords(mskEvent(records), ports, {
        decode: sink.decode,
        chunkSize: sink.chunkSize,
        shardConcurrency: sink.shardConcurrency,
      });
      expect(summary.errors).toEqual([]);
      bench.last = summary;
      return positionOf(records.map((r) => ({ topic, partition: 0, offset: BigInt(r.offset) })));
    },
    close() {
      reader.close();
      redis.disconnect();
    },
  };
  return bench;
}

/** Where a read-side test runs: a redis-server of the file's own, or a 3-master cluster. */
export interface ReadPlace {
  start(): Promise<RedisServer | RedisCluster>;
  /** The node that holds `key`. */
  nodeOf(server: RedisServer | RedisCluster, key: string): Promise<RedisServer>;
  /** After a node came back: every slot served again. */
  settled(server: RedisServer | RedisCluster): Promise<void>;
}

export const readPlaces: [string, ReadPlace][] = [
  [
    'a redis-server',
    {
      start: () => startTestRedisServer(),
      nodeOf: async (server) => server as RedisServer,
      settled: async () => {},
    },
  ],
  [
    'a 3-master cluster',
    {
      start: () => startTestRedisCluster(3),
      nodeOf: async (server, key) => (await (server as RedisCluster).ownersOf(key)).master,
      settled: (server) => waitForClusterOk(server as RedisCluster),
    },
  ],
];

/** A node that forgets everything: stopped, its snapshot removed, started again. */
export async function restartEmpty(node: RedisServer): Promise<void> {
  await node.stop();
  await rm(join(node.dir, 'dump.rdb'), { force: true });
  await node.start();
}

/** The leaderboard Redis holds, ranked highest first, read with the bare command. */
export async function leaderboardOf(
  redis: RedisClient,
  shard: string,
  keyPrefix: string,
  name = board,
): Promise<{ member: string; score: number; rank: number }[]> {
  const flat = await redis.zrange(stateKey(shard, name, keyPrefix), '0', '-1', 'REV', 'WITHSCORES');
  const ranked = [];
  for (let i = 0; i + 1 < flat.length; i += 2)
    ranked.push({ member: flat[i] as string, score: Number(flat[i + 1]), rank: i / 2 });
  return ranked;
}
