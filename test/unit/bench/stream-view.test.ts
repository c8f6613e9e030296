import { describe, expect, it } from 'vitest';
import { benchEvents } from '../../../bench/apply-throughput.ts';
import { foldLast } from '../../../bench/replay-rebuild.ts';
import {
  backlogRatio,
  rankedDesc,
  rankingDifference,
  type StreamViewMeasurement,
  slowestWarm,
  viewTailTable,
  viewWarmTable,
} from '../../../bench/stream-view.ts';

describe('rankedDesc()', () => {
  it('ranks the highest score first and ties by member, descending, as ZRANGE … REV does', () => {
    const ranked = rankedDesc([
      ['bob', 7],
      ['amy', 3],
      ['cid', 7],
      ['dan', 10],
    ]);
    expect(ranked).toEqual([
      { member: 'dan', score: 10, rank: 0 },
      { member: 'cid', score: 7, rank: 1 },
      { member: 'bob', score: 7, rank: 2 },
      { member: 'amy', score: 3, rank: 3 },
    ]);
    expect(rankedDesc([])).toEqual([]);
  });
});

describe('rankingDifference()', () => {
  const ranking = rankedDesc([
    ['a', 3],
    ['b', 2],
    ['c', 1],
  ]);

  it('finds none between equal rankings', () => {
    expect(
      rankingDifference(ranking, rankedDesc([...ranking].map((m) => [m.member, m.score]))),
    ).toBe(undefined);
  });

  it('says where a ranking first differs: its length, a member, a score', () => {
    expect(rankingDifference(ranking.slice(0, 2), ranking)).toBe('2 members, not 3');
    const swapped = rankedDesc([
      ['a', 3],
      ['b', 1],
      ['c', 2],
    ]);
    expect(rankingDifference(swapped, ranking)).toBe(
      'rank 1 is {"member":"c","score":2,"rank":1}, not {"member":"b","score":2,"rank":1}',
    );
    const rescored = ranking.map((m) => (m.member === 'c' ? { ...m, score: 1.5 } : m));
    expect(rankingDifference(rescored, ranking)).toMatch(/^rank 2 is/);
  });
});

describe('foldLast()', () => {
  it('folds the mutations of the last events only, oldest first', () => {
    const events = benchEvents(40, 4, 10);
    const board = (n: number) => {
      const value = foldLast(events, n).state.get('leaderboard');
      return value?.type === 'zset'
        ? new Map([...value.members].map(([member, { score }]) => [member, score]))
        : undefined;
    };
    const sums = (from: number) => {
      const expected = new Map<string, number>();
      for (const event of events.slice(from)) {
        const [member, delta] = event.mutation.args as [string, string];
        expected.set(member, (expected.get(member) ?? 0) + Number(delta));
      }
      return expected;
    };
    expect(board(10)).toEqual(sums(30));
    expect(board(1_000)).toEqual(sums(0));
  });
});

/** A measurement with the warm-ups given per stream, and a backlog pass at `ratio` of the guard. */
function measurement(warm: Record<number, number[]>, ratio = 1.2): StreamViewMeasurement {
  return {
    streams: Object.keys(warm).map(Number),
    rounds: 3,
    tailEvents: 200_000,
    warm: Object.entries(warm).map(([entries, ms]) => ({
      streamEntries: Number(entries),
      members: 10_000,
      fromEntriesMs: ms,
      fromStateMs: ms.map((m) => m / 2),
    })),
    live: { applyPerSecond: 50_000, viewPerSecond: 49_900, lagMs: 4.25, maxBehind: 1_500 },
    backlog: {
      applyPerSecond: 80_000,
      viewPerSecond: 80_000 * ratio,
      lagMs: 2_083.3,
      maxBehind: 200_000,
    },
    backlogRatios: [ratio * 0.9, ratio, ratio * 1.1],
    correct: true,
    wrong: [],
  };
}

describe('slowestWarm()', () => {
  it("is the highest of the streams' median warm-ups from the entries", () => {
    expect(slowestWarm(measurement({ 10000: [40, 30, 90], 1000000: [45, 44, 46] }))).toEqual({
      streamEntries: 1_000_000,
      ms: 45,
    });
    expect(slowestWarm(measurement({}))).toBe(undefined);
  });

  it('takes a warm-up not measured for the slowest', () => {
    const slowest = slowestWarm(measurement({ 10000: [], 1000000: [45] }));
    expect(slowest?.streamEntries).toBe(10_000);
    expect(slowest?.ms).toBeNaN();
  });
});

describe('backlogRatio()', () => {
  it("is the view's rate on the backlog over the guard's of the same pass", () => {
    expect(backlogRatio(measurement({}, 0.75))).toBeCloseTo(0.75, 10);
  });
});

describe('viewWarmTable()', () => {
  it("gives each stream its members and both warm-ups' medians with their range", () => {
    const table = viewWarmTable(measurement({ 10000: [40, 30, 90], 1000000: [45] })).split('\n');
    expect(table).toEqual([
      '| stream entries | leaderboard members | start(), warm from the last 10,000 entries | start(), warm from the state |',
      '| --- | ---: | ---: | ---: |',
      '| 10,000 | 10,000 | 40.0 ms (30.0 to 90.0) | 20.0 ms (15.0 to 45.0) |',
      '| 1,000,000 | 10,000 | 45.0 ms | 22.5 ms |',
    ]);
  });
});

describe('viewTailTable()', () => {
  it('gives each pass the two rates, their ratio, the time to caught up and the backlog', () => {
    const table = viewTailTable(measurement({}, 0.5)).split('\n');
    expect(table.slice(2)).toEqual([
      '| live: the view tails while the guard writes | 200,000 | 50,000 | 49,900 | 1.00x | 4.3 ms after the last chunk | 1,500 |',
      '| backlog: the view reads after the guard wrote (the median of 3 passes) | 200,000 | 80,000 | 40,000 | 0.50x (0.45 to 0.55) | 2,083.3 ms after release | 200,000 |',
    ]);
  });
});
