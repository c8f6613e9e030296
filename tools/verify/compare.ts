/**
 * The comparison: the expected state (expected-state.ts) against the state keys in Redis, and
 * the records that must be dead letters against the dead-letter stream. Differences come as
 * data, sorted by place; report.ts words them.
 */
import {
  metaStateNames,
  parseScore,
  type RedisClient,
  scoreText,
  shardKeys,
  stateKey,
} from '../../core/index.ts';

import type { ExpectedKey, ExpectedScore, ExpectedState } from './expected-state.ts';

export interface StateDifference {
  shard: string;
  /** The state key's name, as events name it. */
  key: string;
  /** The member or field; null when the whole key differs (it holds another Redis type). */
  target: string | null;
  /** missing: expected, not in Redis; extra: in Redis, not expected; type: the key's type. */
  kind: 'missing' | 'extra' | 'value' | 'type';
  /** As Redis would print it; null for none. For `type`, the Redis type names. */
  expected: string | null;
  actual: string | null;
}

/**
 * Rounding differs with the order of the additions, and the sink's order across partitions is
 * not the model's: 1e-9 of the sum of absolute deltas is far above that error (about n * 2^-53
 * of it), and far below any delta worth reporting.
 */
const relativeTolerance = 1e-9;

function scoresAgree(expected: ExpectedScore, actual: number): boolean {
  if (expected.score === actual) return true;
  if (expected.exact || !Number.isFinite(actual) || !Number.isFinite(expected.score)) return false;
  return Math.abs(actual - expected.score) <= relativeTolerance * expected.magnitude;
}

/** What a state key holds in Redis: target -> text, and its Redis type. */
async function readStateKey(
  redis: RedisClient,
  key: string,
): Promise<{ type: string; entries: Map<string, string> }> {
  const type = await redis.type(key);
  const entries = new Map<string, string>();
  if (type === 'zset') {
    const flat = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    for (let i = 0; i + 1 < flat.length; i += 2)
      entries.set(flat[i] as string, flat[i + 1] as string);
  } else if (type === 'hash') {
    for (const [field, value] of Object.entries(await redis.hgetall(key)))
      entries.set(field, value);
  } else if (type === 'set') {
    for (const member of await redis.smembers(key)) entries.set(member, member);
  }
  return { type, entries };
}

/**
 * State names the guard has applied events to in a shard: `n:<name>` in meta. These find keys
 * the model does not expect at all (written around the pipeline through the guard's own names).
 */
async function appliedNames(redis: RedisClient, shard: string, keyPrefix: string) {
  return metaStateNames(await redis.hkeys(shardKeys(shard, keyPrefix).meta), 'count');
}

function compareKey(
  shard: string,
  name: string,
  expected: ExpectedKey | undefined,
  actual: { type: string; entries: Map<string, string> },
): StateDifference[] {
  const differences: StateDifference[] = [];
  const add = (
    target: string | null,
    kind: StateDifference['kind'],
    want: string | null,
    have: string | null,
  ) => differences.push({ shard, key: name, target, kind, expected: want, actual: have });

  if (expected !== undefined && actual.type !== 'none' && actual.type !== expected.type) {
    add(null, 'type', expected.type, actual.type);
    return differences;
  }
  if (expected?.type === 'zset') {
    for (const [member, score] of expected.members) {
      const text = actual.entries.get(member);
      if (text === undefined) add(member, 'missing', scoreText(score.score), null);
      else if (!scoresAgree(score, parseScore(text)))
        add(member, 'value', scoreText(score.score), text);
    }
  } else if (expected?.type === 'hash') {
    for (const [field, value] of expected.fields) {
      const text = actual.entries.get(field);
      if (text === undefined) add(field, 'missing', String(value), null);
      else if (text !== String(value)) add(field, 'value', String(value), text);
    }
  } else if (expected?.type === 'set') {
    for (const member of expected.members) {
      if (!actual.entries.has(member)) add(member, 'missing', member, null);
    }
  }
  const known: { has(target: string): boolean } =
    expected === undefined
      ? new Set()
      : expected.type === 'hash'
        ? expected.fields
        : expected.members;
  for (const [target, text] of actual.entries) {
    if (!known.has(target)) add(target, 'extra', null, text);
  }
  return differences;
}

function byPlace(a: StateDifference, b: StateDifference): number {
  const order = (x: string | null, y: string | null) =>
    x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
  return order(a.shard, b.shard) || order(a.key, b.key) || order(a.target, b.target);
}

/**
 * Compares the state keys of every expected shard with Redis (also the keys of those shards
 * that the guard wrote but the model does not expect). Differences come sorted by place.
 */
export async function verifyState(
  redis: RedisClient,
  expected: Pick<ExpectedState, 'shards'>,
  options: { keyPrefix: string },
): Promise<StateDifference[]> {
  const perShard = await Promise.all(
    [...expected.shards].map(async ([shard, keys]) => {
      const names = new Set([
        ...keys.keys(),
        ...(await appliedNames(redis, shard, options.keyPrefix)),
      ]);
      const perKey = await Promise.all(
        [...names].map(async (name) =>
          compareKey(
            shard,
            name,
            keys.get(name),
            await readStateKey(redis, stateKey(shard, name, options.keyPrefix)),
          ),
        ),
      );
      return perKey.flat();
    }),
  );
  return perShard.flat().sort(byPlace);
}

/** The key name dead-letter differences carry: no state key can be named so (shard ''). */
export const deadLettersKey = 'dead letters';

/**
 * Every invalid or rejected record must be in the dead-letter stream exactly once, and nothing
 * else of these topics: missing, extra, and `value` for a record there more than once.
 */
export function compareDeadLetters(
  expected: readonly string[],
  actual: ReadonlyMap<string, number>,
): StateDifference[] {
  const differences: StateDifference[] = [];
  const difference = (target: string, kind: StateDifference['kind'], count: number) =>
    differences.push({
      shard: '',
      key: deadLettersKey,
      target,
      kind,
      expected: kind === 'extra' ? null : '1',
      actual: count === 0 ? null : String(count),
    });
  const wanted = new Set(expected);
  for (const position of wanted) {
    const count = actual.get(position) ?? 0;
    if (count === 0) difference(position, 'missing', 0);
    else if (count > 1) difference(position, 'value', count);
  }
  for (const [position, count] of actual)
    if (!wanted.has(position)) difference(position, 'extra', count);
  return differences.sort(byPlace);
}
