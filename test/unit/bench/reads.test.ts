import { describe, expect, it } from 'vitest';
import {
  boundExtraRoundTrips,
  type DesignMeasurement,
  type DesignName,
  designNames,
  lowestReaderRatio,
  memberScore,
  memberSequence,
  type ReadMeasurement,
  type ReadName,
  type ReadsMeasurement,
  readNames,
  readsTable,
} from '../../../bench/reads.ts';

describe('memberSequence()', () => {
  it('draws the same members for the same seed, others for another, all below the count', () => {
    const first = memberSequence(1_000_000, 5_000, 1);
    expect(memberSequence(1_000_000, 5_000, 1)).toEqual(first);
    expect(memberSequence(1_000_000, 5_000, 2)).not.toEqual(first);
    expect(first.every((i) => Number.isInteger(i) && i >= 0 && i < 1_000_000)).toBe(true);
    // Spread over the leaderboard, not bunched at one end.
    expect(new Set(first).size).toBeGreaterThan(4_900);
    expect(Math.min(...first)).toBeLessThan(10_000);
    expect(Math.max(...first)).toBeGreaterThan(990_000);
  });
});

describe('memberScore()', () => {
  it('gives integer scores from 1 to 1,000, many members to a score', () => {
    const scores = Array.from({ length: 100_000 }, (_, i) => memberScore(i));
    expect(scores.every((s) => Number.isInteger(s) && s >= 1 && s <= 1_000)).toBe(true);
    const perScore = new Map<number, number>();
    for (const s of scores) perScore.set(s, (perScore.get(s) ?? 0) + 1);
    expect(perScore.size).toBe(1_000);
    expect(Math.min(...perScore.values())).toBeGreaterThan(50);
  });
});

/** A measurement of the three reads: each reader design at `ratios[read][design]` of bare. */
function measurement(ratios: Partial<Record<ReadName, [number, number]>> = {}): ReadsMeasurement {
  const design = (d: DesignName, read: ReadName): DesignMeasurement => {
    const ofBare = d === 'bare commands' ? 1 : (ratios[read] ?? [1, 1])[d === 'reader' ? 0 : 1];
    return {
      design: d,
      readsPerSecond: 10_000 * ofBare,
      p50Ms: 0.1 / ofBare,
      p99Ms: 0.5,
      ofBare,
      ratios: [ofBare - 0.05, ofBare, ofBare + 0.02],
      roundTrips: read === 'around' && d === 'bare commands' ? 2 : 1,
      commandsSent: d === 'reader at a position' ? 6 : 2,
      commandsRun: d === 'reader at a position' ? 6.5 : 2,
    };
  };
  const reads: ReadMeasurement[] = readNames.map((read) => ({
    read,
    designs: designNames.map((d) => design(d, read)),
  }));
  return { members: 1_000_000, calls: 20_000, rounds: 3, reads, correct: true, wrong: [] };
}

describe('lowestReaderRatio()', () => {
  it('finds the lowest ratio of the design asked for, and its read', () => {
    const m = measurement({ rank: [0.95, 0.5], 'top 10': [0.92, 0.7], around: [1.2, 0.45] });
    expect(lowestReaderRatio(m, 'reader')).toEqual({ read: 'top 10', ratio: 0.92 });
    expect(lowestReaderRatio(m, 'reader at a position')).toEqual({ read: 'around', ratio: 0.45 });
  });

  it('takes a ratio not measured for the lowest', () => {
    const m = measurement({ rank: [0.95, 0.5], around: [Number.NaN, 0.6] });
    expect(lowestReaderRatio(m, 'reader')?.read).toBe('around');
    expect(lowestReaderRatio(m, 'reader')?.ratio).toBeNaN();
  });
});

describe('boundExtraRoundTrips()', () => {
  it('is the most round trips the bound adds to a read through the reader', () => {
    const m = measurement();
    expect(boundExtraRoundTrips(m)).toBe(0);
    const rank = m.reads[0]?.designs[2];
    if (rank === undefined) throw new Error('no bounded rank');
    rank.roundTrips = 2;
    expect(boundExtraRoundTrips(m)).toBe(1);
  });
});

describe('readsTable()', () => {
  it('gives each read and design its rate, latency, ratio with the range, and its counts', () => {
    const table = readsTable(measurement({ rank: [0.95, 0.5] })).split('\n');
    expect(table).toHaveLength(2 + 9);
    expect(table[0]).toBe(
      '| read | design | reads/s | p50 / p99 per read | of bare | round trips / commands sent / commands Redis ran, per read |',
    );
    expect(table[2]).toBe(
      '| rank | bare commands | 10,000 | 0.100 / 0.500 ms | 1.00x | 1 / 2 / 2 |',
    );
    expect(table[3]).toBe(
      '| rank | reader | 9,500 | 0.105 / 0.500 ms | 0.95x (0.90 to 0.97) | 1 / 2 / 2 |',
    );
    expect(table[4]).toBe(
      '| rank | reader at a position | 5,000 | 0.200 / 0.500 ms | 0.50x (0.45 to 0.52) | 1 / 6 / 6.50 |',
    );
    expect(table[8]).toBe(
      '| around (5 on each side) | bare commands | 10,000 | 0.100 / 0.500 ms | 1.00x | 2 / 2 / 2 |',
    );
  });
});
