/**
 * The drift check reads Redis in three steps (the ledgers, the shards, the dead letters) while
 * the sink goes on writing. These tests put the sink's writes, or a loss, between those reads
 * at exactly one point: the real reads of the suite's Redis, wrapped so that something happens
 * right after a read returns. The batches go through the real sink core and its Redis ports.
 */
import { randomBytes } from 'node:crypto';
import type { MSKRecord } from 'aws-lambda';
import { describe, expect, inject, it } from 'vitest';
import { applyRecords } from '../../functions/apply-events/apply-records.ts';
import { createSinkPorts } from '../../functions/apply-events/create-handler.ts';
import {
  checkDrift,
  type DriftReads,
  redisDriftReads,
} from '../../functions/check-drift/check-drift.ts';
import { loadSinkConfig } from '../../functions/shared/config.ts';
import { shardKeys } from '../../functions/shared/redis/keys.ts';
import { mskEvent, mskRecord } from '../helpers/events.ts';
import { createTopic, produce, uniqueTopic } from '../helpers/kafka.ts';
import { suiteRedis } from '../helpers/redis.ts';

const { redis, raw } = suiteRedis();

/** An envelope event of `shard`, or a record that is not JSON (a dead letter) when null. */
const value = (shard: string | null, seq: number) =>
  shard === null
    ? '{"truncated'
    : JSON.stringify({
        id: `e${seq}`,
        scope: `wallet-${shard}`,
        seq,
        shard,
        type: 'hincrby',
        data: { key: 'balances', field: `wallet-${shard}`, delta: 1 },
      });

/**
 * A topic of one partition holding three batches of ten records: the first to shard `a`; the
 * second and third also to a shard not written before (`b`, then `c`) and with a malformed
 * record each. Returns the batches as the event source mapping would deliver them.
 */
async function threeBatches(label: string): Promise<{ topic: string; batches: MSKRecord[][] }> {
  const topic = uniqueTopic(label);
  const bootstrap = inject('kafkaBootstrap');
  await createTopic(bootstrap, topic, 1);
  const shards = [
    Array.from({ length: 10 }, () => 'a'),
    [...Array.from({ length: 6 }, () => 'a'), 'b', 'b', null, 'a'],
    [...Array.from({ length: 5 }, () => 'a'), 'c', null, 'b', 'c', 'a'],
  ];
  const values = shards.flat().map((shard, offset) => value(shard, offset + 1));
  await produce(
    bootstrap,
    topic,
    values.map((v) => ({ partition: 0, value: v })),
  );
  const records = values.map((v, offset) =>
    mskRecord({ topic, partition: 0, offset, value: v, timestamp: Date.now() }),
  );
  return { topic, batches: [records.slice(0, 10), records.slice(10, 20), records.slice(20)] };
}

function bench(topic: string) {
  const sink = loadSinkConfig({
    REDIS_URL: inject('redisUrl'),
    SEQGUARD_FORMAT: 'envelope',
    SEQGUARD_KEY_PREFIX: `r${randomBytes(4).toString('hex')}`,
  });
  const ports = createSinkPorts(redis, sink.guard);
  const options = {
    topics: [topic],
    consumerGroup: `never-${topic}`,
    autoReplay: true,
    replayLimit: 1_000,
    maxStateEntries: 1_000,
  };
  const deps = {
    kafka: { bootstrapBrokers: [inject('kafkaBootstrap')], clientId: 'check-drift-reads' },
    redis,
    ports,
    sink,
  };
  const apply = async (batch: MSKRecord[]) => {
    const { summary } = await applyRecords(mskEvent(batch), ports, {
      decode: sink.decode,
      chunkSize: sink.chunkSize,
      shardConcurrency: sink.shardConcurrency,
    });
    expect(summary.errors).toEqual([]);
  };
  /** The real reads, with `after(n)` run once the n-th read (from 0) has returned. */
  const readsWith = (after: (n: number) => Promise<void>): DriftReads => {
    const real = redisDriftReads(redis, sink.guard.keyPrefix, options.maxStateEntries);
    let count = 0;
    const then = async <T>(read: Promise<T>): Promise<T> => {
      const result = await read;
      await after(count++);
      return result;
    };
    return {
      ledgers: (partitions) => then(real.ledgers(partitions)),
      shards: () => then(real.shards()),
      deadLetters: () => then(real.deadLetters()),
    };
  };
  return { sink, deps, options, apply, readsWith };
}

describe('checkDrift()', () => {
  it('finds nothing behind when the sink applies a batch between any two of its reads of Redis', async () => {
    // Prepare: the first batch applied; the other two land during the check, one right after
    // each of its first two reads (new shards and dead letters in both).
    const { topic, batches } = await threeBatches('drift-reads');
    const { deps, options, apply, readsWith } = bench(topic);
    await apply(batches[0] as MSKRecord[]);
    const landed: number[] = [];
    const reads = readsWith(async (n) => {
      const batch = batches[n + 1];
      if (!batch) return;
      await apply(batch);
      landed.push(n);
    });
    // Act
    const report = await checkDrift({ ...deps, reads }, options);
    // Assess
    expect(landed).toEqual([0, 1]);
    expect(report.partitions[0]?.behind).toEqual({ ranges: [], records: 0, beyondRetention: 0 });
    expect(report.values.redisBehindRecords).toBe(0);
    expect(report.replay).toBeUndefined();
  });

  it("sees a shard's loss that happens between its reads, in the same check", async () => {
    // Prepare: everything applied; right after the check's first read, the shard's keys
    // vanish, as when the node holding the shard (not the ledger's) restarts empty.
    const { topic, batches } = await threeBatches('drift-reads-loss');
    const { sink, deps, options, apply, readsWith } = bench(topic);
    for (const batch of batches) await apply(batch);
    const reads = readsWith(async (n) => {
      if (n !== 0) return;
      const keys = shardKeys('a', sink.guard.keyPrefix);
      await raw.del(keys.offsets, keys.cursors, keys.meta, keys.gaps);
    });
    // Act
    const report = await checkDrift({ ...deps, reads }, { ...options, autoReplay: false });
    // Assess: the loss is reported now, not one check later.
    expect(report.partitions[0]?.behind.ranges).toContainEqual({
      from: 0n,
      to: 30n,
      why: 'shardBehind',
      shard: 'a',
    });
    expect(report.values.vanishedShards).toBe(1);
  });
});
