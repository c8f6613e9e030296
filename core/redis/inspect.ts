/**
 * Reads what the drift check compares: the shards the sink wrote to, their offset checkpoints,
 * open gaps and running totals against the state itself, and the dead-letter stream. Read only.
 */
import type { Cluster, Redis } from 'ioredis';
import { metaField, metaStateNames } from '../layout/codecs.ts';
import {
  deadLetterKeys,
  parseShardKey,
  shardKeyPattern,
  shardKeys,
  shardRegistryKey,
  stateKey,
} from '../layout/keys.ts';
import { assertReadable } from '../layout/versions.ts';
import type { RedisClient } from './client.ts';

export interface ShardSnapshot {
  shard: string;
  /** In the registry of shards the sink wrote to. */
  registered: boolean;
  /** Its bookkeeping keys exist. A registered shard without them lost its data. */
  present: boolean;
  /** `<topic>-<partition>` -> highest offset guarded in this shard. */
  checkpoints: Map<string, bigint>;
  openGaps: number;
  states: StateCheck[];
}

/**
 * A state key against the guard's running total of the deltas applied to it. The sum is taken
 * in pages over several commands, so it is only trusted if no event was applied to the key in
 * between (its applied count `n:<name>` did not move); otherwise the check is inconclusive and
 * the next run tries again. Keys above `maxStateEntries` are not summed at all.
 */
export type StateCheck =
  | { name: string; kind: 'consistent'; entries: number }
  | { name: string; kind: 'drift'; entries: number; expectedSum: string; actualSum: string }
  | { name: string; kind: 'inconclusive'; reason: 'busy' | 'tooLarge' | 'wrongType' };

export interface InspectOptions {
  keyPrefix: string;
  /** Larger state keys are not summed (the check says so). */
  maxStateEntries: number;
  /** Entries read per command while summing. */
  pageSize?: number;
}

function masters(redis: RedisClient): (Redis | Cluster)[] {
  return 'nodes' in redis &&
    typeof (redis as Cluster).nodes === 'function' &&
    (redis as Cluster).isCluster
    ? (redis as Cluster).nodes('master')
    : [redis];
}

/** Every shard that has an offsets checkpoint (SCAN on every master) or is registered. */
export async function listShards(
  redis: RedisClient,
  keyPrefix: string,
): Promise<{ shard: string; registered: boolean }[]> {
  const registered = new Set(await redis.smembers(shardRegistryKey(keyPrefix)));
  const found = new Set<string>();
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(
        cursor,
        'MATCH',
        shardKeyPattern('offsets', keyPrefix),
        'COUNT',
        1000,
      );
      cursor = next;
      for (const key of keys) {
        const parsed = parseShardKey(key, keyPrefix);
        if (parsed?.kind === 'offsets') found.add(parsed.shard);
      }
    } while (cursor !== '0');
  }
  return [...new Set([...registered, ...found])]
    .sort()
    .map((shard) => ({ shard, registered: registered.has(shard) }));
}

async function sumZset(redis: RedisClient, key: string, pageSize: number): Promise<number> {
  let sum = 0;
  for (let start = 0; ; start += pageSize) {
    const page = await redis.zrange(key, String(start), String(start + pageSize - 1), 'WITHSCORES');
    for (let i = 1; i < page.length; i += 2) sum += Number(page[i]);
    if (page.length < pageSize * 2) return sum;
  }
}

async function sumHash(redis: RedisClient, key: string, pageSize: number): Promise<bigint> {
  let sum = 0n;
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', pageSize);
    cursor = next;
    for (let i = 1; i < flat.length; i += 2) sum += BigInt(flat[i] as string);
  } while (cursor !== '0');
  return sum;
}

async function checkState(
  redis: RedisClient,
  shard: string,
  name: string,
  meta: Record<string, string>,
  options: InspectOptions,
): Promise<StateCheck> {
  const key = stateKey(shard, name, options.keyPrefix);
  const metaKey = shardKeys(shard, options.keyPrefix).meta;
  const pageSize = options.pageSize ?? 10_000;
  const expectedSum = meta[metaField.sum(name)] ?? '0';
  const type = await redis.type(key);
  const entries =
    type === 'zset' ? await redis.zcard(key) : type === 'hash' ? await redis.hlen(key) : 0;
  if (entries > options.maxStateEntries) return { name, kind: 'inconclusive', reason: 'tooLarge' };
  let actualSum: string;
  let equal: boolean;
  if (type === 'zset' || type === 'none') {
    const sum = type === 'zset' ? await sumZset(redis, key, pageSize) : 0;
    const expected = Number(expectedSum);
    // Both sides add doubles, in different orders: allow for rounding, nothing more.
    equal = Math.abs(sum - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
    actualSum = String(sum);
  } else if (type === 'hash') {
    let sum: bigint;
    try {
      sum = await sumHash(redis, key, pageSize);
    } catch {
      return { name, kind: 'drift', entries, expectedSum, actualSum: 'not a counter hash' };
    }
    equal = /^-?\d+$/.test(expectedSum) && sum === BigInt(expectedSum);
    actualSum = sum.toString();
  } else {
    return { name, kind: 'inconclusive', reason: 'wrongType' };
  }
  if (
    (await redis.hget(metaKey, metaField.count(name))) !== (meta[metaField.count(name)] ?? null)
  ) {
    return { name, kind: 'inconclusive', reason: 'busy' };
  }
  return equal
    ? { name, kind: 'consistent', entries }
    : { name, kind: 'drift', entries, expectedSum, actualSum };
}

export async function inspectShard(
  redis: RedisClient,
  shard: { shard: string; registered: boolean },
  options: InspectOptions,
): Promise<ShardSnapshot> {
  const keys = shardKeys(shard.shard, options.keyPrefix);
  const [offsets, openGaps, meta, present] = await Promise.all([
    redis.hgetall(keys.offsets),
    redis.zcard(keys.gaps),
    redis.hgetall(keys.meta),
    redis.exists(keys.offsets, keys.cursors, keys.meta),
  ]);
  // A newer version's shard is not judged by this code's reading of it.
  assertReadable(keys.meta, {
    layout: meta[metaField.layout],
    streamFormat: meta[metaField.streamFormat],
  });
  const names = metaStateNames(Object.keys(meta), 'sum');
  const states: StateCheck[] = [];
  for (const name of names) states.push(await checkState(redis, shard.shard, name, meta, options));
  return {
    shard: shard.shard,
    registered: shard.registered,
    present: present > 0,
    checkpoints: new Map(Object.entries(offsets).map(([tp, offset]) => [tp, BigInt(offset)])),
    openGaps,
    states,
  };
}

export async function inspectDeadLetters(
  redis: RedisClient,
  keyPrefix: string,
): Promise<{ depth: number; checkpoints: Map<string, bigint> }> {
  const keys = deadLetterKeys(keyPrefix);
  const [depth, offsets] = await Promise.all([
    redis.xlen(keys.stream),
    redis.hgetall(keys.offsets),
  ]);
  return {
    depth,
    checkpoints: new Map(Object.entries(offsets).map(([tp, offset]) => [tp, BigInt(offset)])),
  };
}
