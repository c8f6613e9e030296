/**
 * Where Redis holds less than was handled, from a partition's ledger, Kafka's positions and the
 * checkpoints the shards and the dead letters hold.
 */
import { describe, expect, it } from 'vitest';
import { behindRanges, mergeRanges, repairRange } from '../../../core/drift/lost-writes.ts';
import type { LedgerEntry } from '../../../core/sink/ports.ts';

const positions = { earliest: 0n, end: 100n, committed: 100n };
const ledger = (entry: Partial<LedgerEntry>): LedgerEntry => ({
  through: 99n,
  start: 0n,
  shards: new Map(),
  deadLettered: undefined,
  ...entry,
});

describe('behindRanges()', () => {
  it('finds nothing when the ledger, the shards and the dead letters hold what was handled', () => {
    const report = behindRanges(
      positions,
      ledger({ shards: new Map([['a', 97n]]), deadLettered: 50n }),
      new Map([['a', 97n]]),
      50n,
    );
    expect(report).toEqual({ ranges: [], merged: [], records: 0, beyondRetention: 0 });
  });

  it('replays the whole log up to the commit when the ledger is gone', () => {
    expect(behindRanges(positions, undefined, new Map(), undefined).ranges).toEqual([
      { from: 0n, to: 100n, why: 'ledgerLost' },
    ]);
  });

  it('finds nothing for a partition never handled nor committed', () => {
    const fresh = { earliest: 0n, end: 5n, committed: undefined };
    expect(behindRanges(fresh, undefined, new Map(), undefined).records).toBe(0);
  });

  it('finds what the group committed past the run (a rollback, or records given up on)', () => {
    const report = behindRanges(positions, ledger({ through: 59n }), new Map(), undefined);
    expect(report.ranges).toEqual([{ from: 60n, to: 100n, why: 'committedPastLedger' }]);
    expect(report.records).toBe(40);
  });

  it('finds the records before a run that begins after the log start', () => {
    const report = behindRanges(positions, ledger({ start: 30n }), new Map(), undefined);
    expect(report.ranges).toEqual([{ from: 0n, to: 30n, why: 'beforeLedger' }]);
  });

  it('finds a shard, and the dead letters, holding less than was written to them', () => {
    const report = behindRanges(
      positions,
      ledger({
        shards: new Map([
          ['a', 90n],
          ['b', 80n],
        ]),
        deadLettered: 70n,
      }),
      new Map([['a', 60n]]),
      40n,
    );
    expect(report.ranges).toEqual([
      { from: 61n, to: 91n, why: 'shardBehind', shard: 'a' },
      { from: 0n, to: 81n, why: 'shardBehind', shard: 'b' },
      { from: 41n, to: 71n, why: 'deadLettersBehind' },
    ]);
  });

  it('counts a record missing for several reasons once (issue 27: 10,358 said, 7,620 missing)', () => {
    // Prepare: the ledger's run starts at 30, the group committed past it, and both shards,
    // and the dead letters, are behind over offsets those ranges already cover.
    const report = behindRanges(
      positions,
      ledger({
        start: 30n,
        through: 59n,
        shards: new Map([
          ['a', 59n],
          ['b', 40n],
        ]),
        deadLettered: 20n,
      }),
      new Map([['a', 10n]]),
      undefined,
    );
    // Assess: five reasons, overlapping; 0..99 is behind, each offset once.
    expect(report.ranges).toHaveLength(5);
    expect(report.merged).toEqual([{ from: 0n, to: 100n }]);
    expect(report.records).toBe(100);
    expect(report.beyondRetention).toBe(0);
  });

  it('keeps apart ranges that neither overlap nor touch, and merges those that touch', () => {
    expect(
      mergeRanges([
        { from: 50n, to: 60n },
        { from: 0n, to: 10n },
        { from: 10n, to: 20n },
        { from: 55n, to: 58n },
        { from: 70n, to: 70n },
      ]),
    ).toEqual([
      { from: 0n, to: 20n },
      { from: 50n, to: 60n },
    ]);
  });

  it('counts what the log no longer holds apart: it cannot be replayed', () => {
    const trimmed = { earliest: 50n, end: 100n, committed: 100n };
    const report = behindRanges(
      trimmed,
      ledger({ shards: new Map([['a', 79n]]) }),
      new Map([['a', 9n]]),
      undefined,
    );
    expect(report).toMatchObject({ records: 30, beyondRetention: 40 });
  });
});

describe('repairRange()', () => {
  it('covers every range in one pass, clipped to the log', () => {
    const trimmed = { earliest: 50n, end: 100n, committed: 100n };
    const report = behindRanges(
      trimmed,
      ledger({ through: 89n, shards: new Map([['a', 79n]]) }),
      new Map([['a', 9n]]),
      undefined,
    );
    expect(repairRange(report, trimmed)).toEqual({ from: 50n, to: 100n });
  });

  it('has nothing to replay when nothing is behind, or nothing is left in the log', () => {
    expect(
      repairRange({ ranges: [], merged: [], records: 0, beyondRetention: 0 }, positions),
    ).toBeUndefined();
    const gone = { earliest: 80n, end: 100n, committed: 100n };
    const report = behindRanges(
      gone,
      ledger({ shards: new Map([['a', 70n]]) }),
      new Map([['a', 9n]]),
      undefined,
    );
    expect(repairRange(report, gone)).toBeUndefined();
  });
});
