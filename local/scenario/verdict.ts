/**
 * The demo's verdict: does Redis hold exactly the effect of each unique event, once?
 *
 * It reads the state itself, not the delta stream (which is trimmed, so it cannot speak for a
 * long run), in pages, so memory stays bounded by the number of players whatever the number of
 * events:
 * - lost: seqs of a player beyond its cursor, plus seqs inside open gaps: events never applied;
 * - duplicated: events applied beyond the unique ones that were applied (the shard's `applied`
 *   count in meta against the model);
 * - wrong scores: players whose leaderboard score is not the sum of their unique deltas, which
 *   catches any effect applied twice or never, whatever the guard believes;
 * - the running totals (`n:` and `sum:` in meta) against the model.
 * Open gaps the caller expects (seqs a producer drew and never sent, which no event can fill)
 * are told apart from lost events: each must match one expected range exactly.
 * The model is the guard's (core/guard/model.ts) fed each unique event once.
 */
import {
  decodeGapMember,
  type ModelScore,
  metaField,
  parseScore,
  type RedisClient,
  shardKeys,
  stateKey,
} from '../../core/index.ts';

import type { Model } from './traffic-model.ts';

export interface Verdict {
  /** Events the guard counted as applied (meta `applied`). */
  applied: number;
  lost: number;
  duplicated: number;
  wrongScores: number;
  /** Open gaps other than the expected ones. */
  openGaps: number;
  /** Open gaps that match an expected range (seqs never sent). */
  expectedGaps: number;
  /** Meta `n:<name>` and `sum:<name>` equal the model's count and sum. */
  totalsMatch: boolean;
  ok: boolean;
}

export interface VerdictOptions {
  shard: string;
  stateName: string;
  keyPrefix: string;
  /** Entries read per Redis call (default 5,000). */
  pageSize?: number;
  /** Per scope, ranges of seqs drawn and never sent: [first, last], adjacent ones merged. */
  expectedGaps?: ReadonlyMap<string, readonly (readonly [bigint, bigint])[]>;
}

export async function checkAgainstModel(
  redis: RedisClient,
  model: Model,
  { shard, stateName, keyPrefix, pageSize = 5_000, expectedGaps }: VerdictOptions,
): Promise<Verdict> {
  const keys = shardKeys(shard, keyPrefix);
  const board = stateKey(shard, stateName, keyPrefix);

  const expected = model.shard.state.get(stateName);
  const scores: ReadonlyMap<string, ModelScore> =
    expected?.type === 'zset' ? expected.members : new Map();
  let wrongScores = 0;
  let seenInModel = 0;
  // ZRANGE by rank, page by page: the leaderboard does not change any more, so unlike ZSCAN no
  // member is seen twice.
  for (let start = 0; ; start += pageSize) {
    const page = await redis.zrange(
      board,
      String(start),
      String(start + pageSize - 1),
      'WITHSCORES',
    );
    for (let i = 0; i < page.length; i += 2) {
      const score = scores.get(page[i] as string);
      if (score !== undefined) seenInModel += 1;
      if (parseScore(page[i + 1] as string) !== score?.score) wrongScores += 1;
    }
    if (page.length < 2 * pageSize) break;
  }
  wrongScores += scores.size - seenInModel; // players with no score at all

  let lost = 0n;
  const cursors = [...model.shard.cursors];
  for (let start = 0; start < cursors.length; start += pageSize) {
    const page = cursors.slice(start, start + pageSize);
    const held = await redis.hmget(keys.cursors, ...page.map(([field]) => field));
    page.forEach(([, cursor], i) => {
      const value = held[i] === null ? 0n : BigInt(held[i] as string);
      if (value < cursor.value) lost += cursor.value - value;
    });
  }
  let openGaps = 0;
  let expectedOpen = 0;
  for (let start = 0; ; start += pageSize) {
    const members = await redis.zrangeBuffer(
      keys.gaps,
      String(start),
      String(start + pageSize - 1),
    );
    for (const member of members) {
      const { field, first, last } = decodeGapMember(member);
      const scope = field.startsWith('s:') ? field.slice(2) : undefined;
      const expected = scope === undefined ? undefined : expectedGaps?.get(scope);
      if (expected?.some(([a, b]) => a === first && b === last)) {
        expectedOpen += 1;
        continue;
      }
      lost += last - first + 1n;
      openGaps += 1;
    }
    if (members.length < pageSize) break;
  }

  const [appliedText, countText, sumText] = await redis.hmget(
    keys.meta,
    metaField.applied,
    metaField.count(stateName),
    metaField.sum(stateName),
  );
  const applied = Number(appliedText ?? 0);
  const lostCount = Number(lost);
  const duplicated = Math.max(0, applied - (model.shard.applied - lostCount));
  const totals = model.shard.totals.get(stateName) ?? { count: 0, sum: 0 };
  const totalsMatch =
    Number(countText ?? 0) === totals.count && Number(sumText ?? 0) === totals.sum;
  return {
    applied,
    lost: lostCount,
    duplicated,
    wrongScores,
    openGaps,
    expectedGaps: expectedOpen,
    totalsMatch,
    ok: lostCount === 0 && duplicated === 0 && wrongScores === 0 && openGaps === 0 && totalsMatch,
  };
}
