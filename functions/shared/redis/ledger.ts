/**
 * The wrapper of lua/advanceLedger-1.lua and the one reader of the partition ledgers: what the
 * sink handled of each topic-partition, to tell Redis losing acknowledged writes (or the trigger
 * giving up on a range) from Redis never having had them.
 */
import type { RedisClient } from './client.ts';
import { partitionLedgerKey } from './keys.ts';
import { type ReplicaWait, writeAcknowledged } from './replica-wait.ts';
import { redisCallError } from './script-error.ts';

export interface LedgerEntry {
  /** Every record at or below this offset was handled, in one run from `start`. */
  through: bigint | undefined;
  start: bigint | undefined;
  /** The highest offset of the partition written to each shard. */
  shards: Map<string, bigint>;
  /** The highest offset of the partition dead-lettered. */
  deadLettered: bigint | undefined;
}

export interface LedgerAdvance {
  /** The first offset of the range handled. */
  from: bigint;
  /** The last offset of its handled prefix; undefined when none of it was handled. */
  to: bigint | undefined;
  /** The highest offset written to each shard. */
  shards: ReadonlyMap<string, bigint>;
  deadLettered: bigint | undefined;
}

const shardPrefix = 's:';

/** The ledger hash's fields, read back: the one codec of that format. */
export function decodeLedger(fields: Record<string, string>): LedgerEntry {
  const shards = new Map<string, bigint>();
  for (const [field, value] of Object.entries(fields)) {
    if (field.startsWith(shardPrefix)) shards.set(field.slice(shardPrefix.length), BigInt(value));
  }
  const big = (v: string | undefined) => (v === undefined ? undefined : BigInt(v));
  return {
    through: big(fields.through),
    start: big(fields.start),
    shards,
    deadLettered: big(fields.d),
  };
}

/** The ledgers of `partitions` (`<topic>-<partition>`); partitions never handled are absent. */
export async function readLedgers(
  redis: RedisClient,
  partitions: readonly string[],
  keyPrefix: string,
): Promise<Map<string, LedgerEntry>> {
  try {
    const all = await Promise.all(
      partitions.map((p) => redis.hgetall(partitionLedgerKey(p, keyPrefix))),
    );
    const entries = new Map<string, LedgerEntry>();
    partitions.forEach((p, i) => {
      const fields = all[i] as Record<string, string>;
      if (Object.keys(fields).length > 0) entries.set(p, decodeLedger(fields));
    });
    return entries;
  } catch (error) {
    throw redisCallError(error, { call: 'reading the partition ledgers' });
  }
}

/** Records what was handled; false when the range does not join the ledger's run (a hole). */
export async function advanceLedger(
  redis: RedisClient,
  partition: string,
  advance: LedgerAdvance,
  keyPrefix: string,
  /** Replicas that must acknowledge the advance before it counts as recorded. */
  replicaWait?: ReplicaWait,
): Promise<boolean> {
  try {
    const joined = await writeAcknowledged(redis, replicaWait, (c) =>
      c.advanceLedger(
        partitionLedgerKey(partition, keyPrefix),
        String(advance.from),
        advance.to === undefined ? '' : String(advance.to),
        JSON.stringify(Object.fromEntries([...advance.shards].map(([s, o]) => [s, String(o)]))),
        advance.deadLettered === undefined ? '' : String(advance.deadLettered),
      ),
    );
    return Number(joined) === 1;
  } catch (error) {
    throw redisCallError(error, { call: `advancing the ledger of ${partition}` });
  }
}
