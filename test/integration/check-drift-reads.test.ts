/**
 * The drift check reads Redis in three steps (the ledgers, the shards, the dead letters) while
 * the sink goes on writing. These tests put the sink's writes, or a loss, between those reads
 * at exactly one point: the real reads of the suite's Redis, wrapped so that something happens
 * right after a read returns. The batches go through the real sink core and its Redis ports.
 */
import type { MSKRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { checkDrift, type DriftReads, redisDriftReads } from '../../core/drift/check-drift.ts';
import { shardKeys } from '../../core/layout/keys.ts';
import { suiteRedis } from '../helpers/redis.ts';
import { partitionOf, type SinkBench, sinkBench } from '../helpers/sink-bench.ts';

const { redis, raw } = suiteRedis();

/**
 * Three batches of ten records: the first to shard `a`; the second and third also to a shard not
 * written before (`b`, then `c`) and with a malformed record each.
 */
async function threeBatches(label: string): Promise<{ topic: string; batches: MSKRecord[][] }> {
  const { topic, records } = await partitionOf(label, [
    ...Array.from({ length: 10 }, () => 'a'),
    ...[...Array.from({ length: 6 }, () => 'a'), 'b', 'b', null, 'a'],
    ...[...Array.from({ length: 5 }, () => 'a'), 'c', null, 'b', 'c', 'a'],
  ]);
  return { topic, batches: [records.slice(0, 10), records.slice(10, 20), records.slice(20)] };
}

/** The bench's real reads, with `after(n)` run once the n-th read (from 0) has returned. */
function readsWith(bench: SinkBench, after: (n: number) => Promise<void>): DriftReads {
  const real = redisDriftReads(redis, bench.sink.guard.keyPrefix, bench.options.maxStateEntries);
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
}

describe('checkDrift()', () => {
  it('finds nothing behind when the sink applies a batch between any two of its reads of Redis', async () => {
    // Prepare: the first batch applied; the other two land during the check, one right after
    // each of its first two reads (new shards and dead letters in both).
    const { topic, batches } = await threeBatches('drift-reads');
    const bench = sinkBench(redis, topic);
    await bench.apply(batches[0] as MSKRecord[]);
    const landed: number[] = [];
    const reads = readsWith(bench, async (n) => {
      const batch = batches[n + 1];
      if (!batch) return;
      await bench.apply(batch);
      landed.push(n);
    });
    // Act
    const report = await checkDrift({ ...bench.deps, reads }, bench.options);
    // Assess
    expect(landed).toEqual([0, 1]);
    expect(report.partitions[0]?.behind).toEqual({
      ranges: [],
      merged: [],
      records: 0,
      beyondRetention: 0,
    });
    expect(report.values.redisBehindRecords).toBe(0);
    expect(report.replay).toBeUndefined();
  });

  it("sees a shard's loss that happens between its reads, in the same check", async () => {
    // Prepare: everything applied; right after the check's first read, the shard's keys
    // vanish, as when the node holding the shard (not the ledger's) restarts empty.
    const { topic, batches } = await threeBatches('drift-reads-loss');
    const bench = sinkBench(redis, topic, { autoReplay: false });
    for (const batch of batches) await bench.apply(batch);
    const reads = readsWith(bench, async (n) => {
      if (n !== 0) return;
      const keys = shardKeys('a', bench.sink.guard.keyPrefix);
      await raw.del(keys.offsets, keys.cursors, keys.meta, keys.gaps);
    });
    // Act
    const report = await checkDrift({ ...bench.deps, reads }, bench.options);
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
