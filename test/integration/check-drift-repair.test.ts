/**
 * The drift check's repair must finish on its own, one bounded replay per check, whatever the
 * ledger looked like when the loss was found: each check has to leave the next one less to do.
 * On the suite's Redis and Kafka, through the real sink core and its Redis ports.
 */
import { describe, expect, it } from 'vitest';
import type { SinkPorts } from '../../functions/apply-events/apply-records.ts';
import { checkDrift, type DriftReport } from '../../functions/check-drift/check-drift.ts';
import { shardKeys, stateKey } from '../../functions/shared/redis/keys.ts';
import { readLedgers } from '../../functions/shared/redis/ledger.ts';
import { suiteRedis } from '../helpers/redis.ts';
import { partitionOf, type SinkBench, sinkBench } from '../helpers/sink-bench.ts';

const { redis } = suiteRedis();

/** Runs checks until one finds nothing behind; returns the reports. */
async function checkUntilRepaired(bench: SinkBench, atMost: number): Promise<DriftReport[]> {
  const reports: DriftReport[] = [];
  for (let i = 0; i < atMost; i++) {
    const report = await checkDrift(bench.deps, bench.options);
    reports.push(report);
    if (report.values.redisBehindRecords === 0) break;
  }
  return reports;
}

describe('checkDrift() repairing', () => {
  it('repairs a loss larger than its replay limit when the ledger began a new run after it', async () => {
    // Prepare: 30 events of one shard, 20 applied; the next batch is applied by the guard, then
    // Redis restarts empty, then the batch's ledger advance lands on the empty Redis and begins
    // a new run at offset 20 (what the soak found: the ledger's run starts after the log start
    // by more than one replay's limit).
    const { topic, records } = await partitionOf(
      'repair-before-run',
      Array.from({ length: 30 }, () => 'a'),
    );
    const bench = sinkBench(redis, topic, { replayLimit: 8 });
    await bench.apply(records.slice(0, 20));
    const restartAfterGuard: SinkPorts = {
      ...bench.ports,
      async applyChunk(shard, events, expected) {
        const outcomes = await bench.ports.applyChunk(shard, events, expected);
        await bench.wipe();
        return outcomes;
      },
    };
    await bench.apply(records.slice(20), restartAfterGuard);
    const tp = `${topic}-0`;
    expect((await readLedgers(redis, [tp], bench.sink.guard.keyPrefix)).get(tp)).toMatchObject({
      start: 20n,
      through: 29n,
    });
    // Act: checks, each replaying at most 8 records.
    const reports = await checkUntilRepaired(bench, 8);
    // Assess: every check moved on; the state holds each of the 30 events once.
    expect(reports.at(-1)?.values.redisBehindRecords).toBe(0);
    expect(reports.length).toBeLessThanOrEqual(Math.ceil(30 / 8) + 1);
    const prefix = bench.sink.guard.keyPrefix;
    expect(await redis.hget(stateKey('a', 'balances', prefix), 'wallet-a')).toBe('30');
    expect(await redis.hget(shardKeys('a', prefix).meta, 'applied')).toBe('30');
  });
});
