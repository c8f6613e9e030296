/**
 * A bench for the read side (core/reading): events of a few kinds applied through the real sink
 * core and its Redis ports, one shard, partition 0 of topic `scores` at offsets 0, 1, 2, …, on a
 * key prefix of its own, with a reader of that prefix.
 */
import { randomBytes } from 'node:crypto';
import type { MSKRecord } from 'aws-lambda';
import { expect } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { type Position, positionOf } from '../../core/events/position.ts';
import { createReader, type Reader } from '../../core/reading/reader.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { applyRecords, type BatchSummary } from '../../core/sink/apply-records.ts';
import { createSinkPorts } from '../../core/sink/redis-ports.ts';
import { mskEvent, mskRecord } from './events.ts';
import { projectClient, type RedisTarget, redisEnv } from './redis.ts';

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
