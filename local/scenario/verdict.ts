/**
 * The demo's verdict (and the soak's): does Redis hold exactly the effect of each unique event,
 * once?
 *
 * It reads the state itself, not the delta stream (which is trimmed, so it cannot speak for a
 * long run), in pages, so memory stays bounded by the number of players whatever the number of
 * events:
 * - lost: seqs of a scope beyond its cursor, plus seqs inside open gaps: events never applied;
 * - duplicated: events applied beyond the unique ones that were applied (the shard's `applied`
 *   count in meta against the model);
 * - wrong scores: players whose leaderboard score is not the sum of their unique deltas, which
 *   catches any effect applied twice or never, whatever the guard believes;
 * - wrong entries: the same for every other state key the model holds (balances, sets, best
 *   scores): a field, member or score Redis holds otherwise, or misses;
 * - refused: the events the guard refused (a debit beyond the balance), as the state tells them:
 *   the seqs the cursors consumed, less the open gaps, less the events applied; the model's
 *   refusals must be exactly these;
 * - the running totals (`applied`, `n:` and `sum:` in meta) against the model, for every state
 *   either side has totals of.
 * Open gaps the caller expects (seqs a producer drew and never sent, which no event can fill)
 * are told apart from lost events: each must match one expected range exactly.
 * The model is the guard's (core/guard/model.ts) fed each record in its partition's order.
 */
import {
  decodeGapMember,
  type ModelScore,
  type ModelValue,
  metaField,
  metaStateNames,
  parseScore,
  type RedisClient,
  shardKeys,
  stateKey,
} from '../../core/index.ts';
import { defaultFirstSeq } from '../../core/producer/index.ts';

import { type Model, refusedCount } from './traffic-model.ts';

export interface Verdict {
  /** Events the guard counted as applied (meta `applied`). */
  applied: number;
  /** Events the guard refused, as the state tells them: seqs consumed less events applied. */
  refused: number;
  lost: number;
  duplicated: number;
  /** Players whose leaderboard score is wrong or missing. */
  wrongScores: number;
  /** Entries of the other state keys (fields, members, scores) that are wrong or missing. */
  wrongEntries: number;
  /** The state keys compared with the model, the leaderboard first. */
  statesChecked: string[];
  /** Open gaps other than the expected ones. */
  openGaps: number;
  /** Open gaps that match an expected range (seqs never sent). */
  expectedGaps: number;
  /** Meta `n:<name>` and `sum:<name>` equal the model's count and sum, for every state. */
  totalsMatch: boolean;
  /** The refusals the state tells equal the model's. */
  refusedMatch: boolean;
  ok: boolean;
}

export interface VerdictOptions {
  shard: string;
  /** The leaderboard: its wrong scores are counted apart. */
  stateName: string;
  keyPrefix: string;
  /**
   * Further state keys the traffic may touch, checked even where the model has none (Redis must
   * then have none either). Every state key of the model is checked in any case.
   */
  stateNames?: readonly string[];
  /** Entries read per Redis call (default 5,000). */
  pageSize?: number;
  /** Per scope, ranges of seqs drawn and never sent: [first, last], adjacent ones merged. */
  expectedGaps?: ReadonlyMap<string, readonly (readonly [bigint, bigint])[]>;
}

/** Members whose score Redis holds otherwise than `members`, or not at all; ZRANGE by rank. */
async function wrongZsetEntries(
  redis: RedisClient,
  key: string,
  members: ReadonlyMap<string, ModelScore>,
  pageSize: number,
): Promise<number> {
  let wrong = 0;
  let seenInModel = 0;
  // By rank, page by page: the state does not change any more, so unlike ZSCAN no member is
  // seen twice.
  for (let start = 0; ; start += pageSize) {
    const page = await redis.zrange(key, String(start), String(start + pageSize - 1), 'WITHSCORES');
    for (let i = 0; i < page.length; i += 2) {
      const score = members.get(page[i] as string);
      if (score !== undefined) seenInModel += 1;
      if (parseScore(page[i + 1] as string) !== score?.score) wrong += 1;
    }
    if (page.length < 2 * pageSize) break;
  }
  return wrong + members.size - seenInModel; // members with no score at all
}

/**
 * Fields (or set members) Redis holds otherwise than `expected`, or not at all: HSCAN / SSCAN,
 * which may return an entry twice, so each is judged once.
 */
async function wrongScannedEntries(
  redis: RedisClient,
  key: string,
  kind: 'hash' | 'set',
  expected: ReadonlyMap<string, string>,
  pageSize: number,
): Promise<number> {
  let wrong = 0;
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, flat] =
      kind === 'hash'
        ? await redis.hscan(key, cursor, 'COUNT', pageSize)
        : await redis.sscan(key, cursor, 'COUNT', pageSize);
    cursor = next;
    const step = kind === 'hash' ? 2 : 1;
    for (let i = 0; i < flat.length; i += step) {
      const entry = flat[i] as string;
      if (seen.has(entry)) continue;
      seen.add(entry);
      const want = expected.get(entry);
      if (want === undefined || (kind === 'hash' && want !== flat[i + 1])) wrong += 1;
    }
  } while (cursor !== '0');
  for (const entry of expected.keys()) if (!seen.has(entry)) wrong += 1;
  return wrong;
}

/** Entries of one state key that Redis holds otherwise than the model, or misses. */
async function wrongStateEntries(
  redis: RedisClient,
  key: string,
  expected: ModelValue | undefined,
  pageSize: number,
): Promise<number> {
  const size = (value: ModelValue | undefined) =>
    value === undefined ? 0 : value.type === 'hash' ? value.fields.size : value.members.size;
  const type = await redis.type(key);
  if (expected === undefined) {
    if (type === 'none') return 0;
    // A key the model does not have: each of its entries is wrong.
    const held =
      type === 'zset'
        ? await redis.zcard(key)
        : type === 'hash'
          ? await redis.hlen(key)
          : type === 'set'
            ? await redis.scard(key)
            : 1;
    return Math.max(1, held);
  }
  if (type !== expected.type) return Math.max(1, size(expected));
  if (expected.type === 'zset') return wrongZsetEntries(redis, key, expected.members, pageSize);
  if (expected.type === 'hash') {
    const fields = new Map([...expected.fields].map(([f, v]) => [f, String(v)]));
    return wrongScannedEntries(redis, key, 'hash', fields, pageSize);
  }
  const members = new Map([...expected.members].map((m) => [m, '']));
  return wrongScannedEntries(redis, key, 'set', members, pageSize);
}

/** Meta's running totals against the model's, for every state either side has totals of. */
function totalsAgree(meta: Record<string, string>, model: Model): boolean {
  const fields = Object.keys(meta);
  const names = new Set([
    ...model.shard.totals.keys(),
    ...metaStateNames(fields, 'count'),
    ...metaStateNames(fields, 'sum'),
  ]);
  for (const name of names) {
    const totals = model.shard.totals.get(name) ?? { count: 0, sum: 0 };
    if (Number(meta[metaField.count(name)] ?? 0) !== totals.count) return false;
    if (Number(meta[metaField.sum(name)] ?? 0) !== totals.sum) return false;
  }
  return true;
}

export async function checkAgainstModel(
  redis: RedisClient,
  model: Model,
  { shard, stateName, keyPrefix, stateNames = [], pageSize = 5_000, expectedGaps }: VerdictOptions,
): Promise<Verdict> {
  const keys = shardKeys(shard, keyPrefix);
  const statesChecked = [...new Set([stateName, ...model.shard.state.keys(), ...stateNames])];
  let wrongScores = 0;
  let wrongEntries = 0;
  for (const name of statesChecked) {
    const expected = model.shard.state.get(name);
    const wrong = await wrongStateEntries(
      redis,
      stateKey(shard, name, keyPrefix),
      // The leaderboard before its first event: no scores.
      expected ?? (name === stateName ? { type: 'zset', members: new Map() } : undefined),
      pageSize,
    );
    if (name === stateName) wrongScores += wrong;
    else wrongEntries += wrong;
  }

  // Seqs consumed (applied or refused), scope by scope: the cursor's run from the first seq,
  // less the seqs inside open gaps (taken off below).
  let lost = 0n;
  let consumed = 0n;
  const cursors = [...model.shard.cursors];
  for (let start = 0; start < cursors.length; start += pageSize) {
    const page = cursors.slice(start, start + pageSize);
    const held = await redis.hmget(keys.cursors, ...page.map(([field]) => field));
    page.forEach(([, cursor], i) => {
      const value = held[i] === null ? 0n : BigInt(held[i] as string);
      if (value < cursor.value) lost += cursor.value - value;
      if (value >= defaultFirstSeq) consumed += value - defaultFirstSeq + 1n;
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
      consumed -= last - first + 1n;
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

  const meta = await redis.hgetall(keys.meta);
  const applied = Number(meta[metaField.applied] ?? 0);
  const lostCount = Number(lost);
  const duplicated = Math.max(0, applied - (model.shard.applied - lostCount));
  const refused = Number(consumed) - applied;
  const totalsMatch = totalsAgree(meta, model);
  const refusedMatch = refused === refusedCount(model);
  return {
    applied,
    refused,
    lost: lostCount,
    duplicated,
    wrongScores,
    wrongEntries,
    statesChecked,
    openGaps,
    expectedGaps: expectedOpen,
    totalsMatch,
    refusedMatch,
    ok:
      lostCount === 0 &&
      duplicated === 0 &&
      wrongScores === 0 &&
      wrongEntries === 0 &&
      openGaps === 0 &&
      totalsMatch &&
      refusedMatch,
  };
}
