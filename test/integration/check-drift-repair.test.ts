/**
 * The drift check's repair must finish on its own, one bounded replay per check, whatever the
 * ledger looked like when the loss was found: each check has to leave the next one less to do.
 * On the suite's Redis and Kafka, through the real sink core and its Redis ports.
 */
import { describe, expect, it } from 'vitest';
import { checkDrift, type DriftReport } from '../../core/drift/check-drift.ts';
import { deadLetterKeys, shardKeys, stateKey } from '../../core/layout/keys.ts';
import { advanceLedger, readLedgers } from '../../core/redis/ledger.ts';
import type { SinkPorts } from '../../core/sink/ports.ts';
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
  it('repairs a loss larger than its replay limit when the ledger holds a run begun after it', async () => {
    // Prepare: 30 events of one shard applied; Redis loses them all, and the ledger holds a run
    // begun at offset 20 (an advance that landed on the emptied Redis could leave this before
    // the sink took such runs back; an operator's hand still can): the run starts after the log
    // start by more than one replay's limit.
    const { topic, records } = await partitionOf(
      'repair-before-run',
      Array.from({ length: 30 }, () => 'a'),
    );
    const bench = sinkBench(redis, topic, { replayLimit: 8 });
    await bench.apply(records.slice(0, 20));
    await bench.apply(records.slice(20));
    await bench.wipe();
    const prefix = bench.sink.guard.keyPrefix;
    const tp = `${topic}-0`;
    await advanceLedger(
      redis,
      tp,
      { from: 20n, to: 29n, shards: new Map([['a', 29n]]), deadLettered: undefined },
      prefix,
    );
    // Act: checks, each replaying at most 8 records (one pass a check).
    const reports = await checkUntilRepaired(bench, 8);
    // Assess: every check moved on; the state holds each of the 30 events once.
    expect(reports.at(-1)?.values.redisBehindRecords).toBe(0);
    expect(reports.length).toBeLessThanOrEqual(Math.ceil(30 / 8) + 1);
    expect(await redis.hget(stateKey('a', 'balances', prefix), 'wallet-a')).toBe('30');
    expect(await redis.hget(shardKeys('a', prefix).meta, 'applied')).toBe('30');
  });

  it("repairs a shard whose events lie further apart than the replay limit, when only that shard's keys were lost", async () => {
    // Prepare: shard b has events at offsets 0 and 25 only, a the rest; all applied, then b's
    // keys vanish (its node lost them; the ledger, elsewhere, kept what was written to b).
    const shards = Array.from({ length: 30 }, (_, offset) =>
      offset === 0 || offset === 25 ? 'b' : 'a',
    );
    const { topic, records } = await partitionOf('repair-sparse', shards);
    const bench = sinkBench(redis, topic, { replayLimit: 8, repairBudgetMs: 30_000 });
    await bench.apply(records);
    const prefix = bench.sink.guard.keyPrefix;
    const b = shardKeys('b', prefix);
    await redis.del(
      b.offsets,
      b.cursors,
      b.meta,
      b.gaps,
      b.stream,
      stateKey('b', 'balances', prefix),
    );
    // Act: passes of 8 records within each check while its budget lasts.
    const reports = await checkUntilRepaired(bench, 8);
    // Assess: one check replays to b's last event (one pass per check would replay the same
    // records after b's first event again and again: b's checkpoint is all it has to go on).
    expect(reports[0]?.replay?.records).toBe(26);
    expect(reports.length).toBe(2);
    expect(reports.at(-1)?.values.redisBehindRecords).toBe(0);
    expect(await redis.hget(stateKey('b', 'balances', prefix), 'wallet-b')).toBe('2');
    expect(await redis.hget(stateKey('a', 'balances', prefix), 'wallet-a')).toBe('28');
  });

  it('keeps every dead letter when Redis restarts empty between a batch and its ledger advance', async () => {
    // Prepare: a malformed record at offsets 3 and 20, shard a's events around them. The second
    // batch (no dead letter in it) is guarded, then Redis restarts empty, then its ledger
    // advance lands; the third batch begins with a malformed record.
    const shards = Array.from({ length: 30 }, (_, offset): string | null =>
      offset === 3 || offset === 20 ? null : 'a',
    );
    const { topic, records } = await partitionOf('repair-dead-letters', shards);
    const bench = sinkBench(redis, topic, { repairBudgetMs: 30_000 });
    await bench.apply(records.slice(0, 10));
    const restartAfterGuard: SinkPorts = {
      ...bench.ports,
      async applyChunk(shard, events, expected) {
        const outcomes = await bench.ports.applyChunk(shard, events, expected);
        await bench.wipe();
        return outcomes;
      },
    };
    await bench.apply(records.slice(10, 20), restartAfterGuard);
    const tp = `${topic}-0`;
    expect((await readLedgers(redis, [tp], bench.sink.guard.keyPrefix)).get(tp)).toMatchObject({
      start: undefined,
      through: undefined,
    });
    // Act: the third batch, the repair, the third batch again (as the trigger retries it).
    await bench.tryApply(records.slice(20));
    await checkUntilRepaired(bench, 4);
    await bench.apply(records.slice(20));
    await checkUntilRepaired(bench, 4);
    // Assess
    const letters = await redis.xrange(deadLetterKeys(bench.sink.guard.keyPrefix).stream, '-', '+');
    expect(letters.map(([, fields]) => fields[fields.indexOf('offset') + 1])).toEqual(['3', '20']);
    const prefix = bench.sink.guard.keyPrefix;
    expect(await redis.hget(stateKey('a', 'balances', prefix), 'wallet-a')).toBe('28');
  });
});
