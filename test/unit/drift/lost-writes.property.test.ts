/**
 * RedisBehindKafka counts each missing offset once: for any ledger, shard marks, checkpoints,
 * dead-letter marks, commits and log start, the records and beyond-retention counts equal the
 * union of the reasons' ranges, counted offset by offset.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { behindRanges, repairRange } from '../../../core/drift/lost-writes.ts';
import type { LedgerEntry } from '../../../core/sink/ports.ts';

const offset = fc.integer({ min: 0, max: 60 }).map(BigInt);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const history = fc.record({
  earliest: offset,
  committed: maybe(offset),
  ledger: maybe(
    fc.record({
      start: maybe(offset),
      through: maybe(offset),
      deadLettered: maybe(offset),
      shards: fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), offset, maybe(offset)), {
        maxLength: 3,
      }),
    }),
  ),
  deadLetterMark: maybe(offset),
});

describe('behindRanges() over random histories', () => {
  it('counts the union of its ranges, each offset once, split at the log start', () => {
    fc.assert(
      fc.property(history, (h) => {
        // Prepare
        const end = 61n;
        const positions = { earliest: h.earliest, end, committed: h.committed };
        const written = new Map(h.ledger?.shards.map(([shard, w]) => [shard, w]));
        const held = new Map(
          h.ledger?.shards.flatMap(([shard, , c]) => (c === undefined ? [] : [[shard, c]])) ?? [],
        );
        const ledger: LedgerEntry | undefined = h.ledger && {
          start: h.ledger.start,
          through: h.ledger.through,
          deadLettered: h.ledger.deadLettered,
          shards: written,
        };
        // Act
        const report = behindRanges(positions, ledger, held, h.deadLetterMark);
        // Assess: brute force over every offset any range could hold.
        const behind = new Set<bigint>();
        for (const r of report.ranges) for (let o = r.from; o < r.to; o++) behind.add(o);
        const readable = [...behind].filter((o) => o >= h.earliest).length;
        expect(report.records).toBe(readable);
        expect(report.beyondRetention).toBe(behind.size - readable);
        const merged = new Set<bigint>();
        for (const r of report.merged) for (let o = r.from; o < r.to; o++) merged.add(o);
        expect(merged).toEqual(behind);
        // The replay covers every readable offset behind, inside the log.
        const replay = repairRange(report, positions);
        for (const o of behind)
          if (o >= h.earliest && o < end)
            expect(replay && o >= replay.from && o < replay.to).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});
