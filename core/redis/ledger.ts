/**
 * The wrapper of lua/advanceLedger-1.lua and the one reader of the partition ledgers: what the
 * sink handled of each topic-partition, to tell Redis losing acknowledged writes (or the trigger
 * giving up on a range) from Redis never having had them.
 */

import { partitionLedgerKey } from '../layout/keys.ts';
import { assertReadable, stampField } from '../layout/versions.ts';
import type { LedgerAdvance, LedgerEntry } from '../sink/ports.ts';
import type { RedisClient } from './client.ts';
import { type ReplicaWait, writeAcknowledged } from './replica-wait.ts';
import { redisCallError } from './script-error.ts';

/** The ledger hash's fields (lua/advanceLedger-1.lua writes them). */
const field = { through: 'through', start: 'start', deadLettered: 'd' } as const;
const shardPrefix = 's:';

/** The ledger hash's fields, read back: the one codec of that format. */
export function decodeLedger(fields: Record<string, string>): LedgerEntry {
  const shards = new Map<string, bigint>();
  for (const [field, value] of Object.entries(fields)) {
    if (field.startsWith(shardPrefix)) shards.set(field.slice(shardPrefix.length), BigInt(value));
  }
  const big = (v: string | undefined) => (v === undefined ? undefined : BigInt(v));
  return {
    through: big(fields[field.through]),
    start: big(fields[field.start]),
    shards,
    deadLettered: big(fields[field.deadLettered]),
  };
}

/** The ledgers of `partitions` (`<topic>-<partition>`); partitions never handled are absent. */
export async function readLedgers(
  redis: RedisClient,
  partitions: readonly string[],
  keyPrefix: string,
): Promise<Map<string, LedgerEntry>> {
  let all: Record<string, string>[];
  try {
    all = await Promise.all(partitions.map((p) => redis.hgetall(partitionLedgerKey(p, keyPrefix))));
  } catch (error) {
    throw redisCallError(error, { call: 'reading the partition ledgers' });
  }
  const entries = new Map<string, LedgerEntry>();
  partitions.forEach((p, i) => {
    const fields = all[i] as Record<string, string>;
    // A ledger a newer version wrote is not read by this code's reading of it.
    assertReadable(partitionLedgerKey(p, keyPrefix), { layout: fields[stampField.layout] });
    if (Object.keys(fields).length > 0) entries.set(p, decodeLedger(fields));
  });
  return entries;
}

/**
 * What a read's bound needs of the ledgers of `partitions`: each run (`start`, `through`) and,
 * with `shard`, that shard's mark; one HMGET each, whatever other shards the ledgers name.
 * Partitions whose ledger holds none of these are absent.
 */
export async function readLedgerRuns(
  redis: RedisClient,
  partitions: readonly string[],
  keyPrefix: string,
  shard?: string,
): Promise<Map<string, LedgerEntry>> {
  const names = [
    stampField.layout,
    field.start,
    field.through,
    ...(shard === undefined ? [] : [shardPrefix + shard]),
  ];
  try {
    const all = await Promise.all(
      partitions.map((p) => redis.hmget(partitionLedgerKey(p, keyPrefix), ...names)),
    );
    const entries = new Map<string, LedgerEntry>();
    partitions.forEach((p, i) => {
      const [layout, start, through, mark] = all[i] as (string | null)[];
      assertReadable(partitionLedgerKey(p, keyPrefix), { layout: layout ?? undefined });
      if (start === null && through === null && (mark ?? null) === null) return;
      const big = (v: string | null | undefined) =>
        v === null || v === undefined ? undefined : BigInt(v);
      const marked = big(mark);
      entries.set(p, {
        start: big(start),
        through: big(through),
        shards: new Map(shard === undefined || marked === undefined ? [] : [[shard, marked]]),
        deadLettered: undefined,
      });
    });
    return entries;
  } catch (error) {
    throw redisCallError(error, { call: 'reading the partition ledgers' });
  }
}

/**
 * Records what was handled; false when the range does not join the ledger's run (a hole).
 *
 * A repair of records before the run that does not reach its start begins the run anew at the
 * repaired range. The ledger holds one run, and the script lowers its start only when a range
 * reaches it; a repair cut short by its replay limit would otherwise leave the run as it was,
 * and every later drift check would replay the same records from the log start again, never
 * getting further (a ledger whose run began late: a trigger that started at LATEST, an
 * operator's hand, a batch's advance on a ledger lost under it before the rule below). The
 * new run is true (the repair handled it); what it drops of the old run only counts as not
 * handled again: the drift check replays it (duplicates, for the guard) and the sink waits for
 * that, as for any hole. Nothing is claimed that was not handled, whatever ran in between.
 *
 * A live batch that read a run, whose advance then finds none and begins one of its own, landed
 * on a ledger its node lost in between (a restart between the batch's guard and its advance):
 * the new run would claim what the node lost, starting where this batch started, and drop the
 * marks of what was written before (a dead letter appended above them would then make the
 * repair's dead letters below it look already there). The run it began is taken back at once:
 * the ledger has no run, as after any loss of its node; the sink waits, and the drift check
 * replays the partition from the log start. The marks it raised stay (they are true).
 */
export async function advanceLedger(
  redis: RedisClient,
  partition: string,
  advance: LedgerAdvance,
  keyPrefix: string,
  /** Replicas that must acknowledge the advance before it counts as recorded. */
  replicaWait?: ReplicaWait,
): Promise<boolean> {
  const key = partitionLedgerKey(partition, keyPrefix);
  const { readRun, to } = advance;
  try {
    const joined = await writeAcknowledged(redis, replicaWait, (c) =>
      c.advanceLedger(
        key,
        String(advance.from),
        to === undefined ? '' : String(to),
        JSON.stringify(Object.fromEntries([...advance.shards].map(([s, o]) => [s, String(o)]))),
        advance.deadLettered === undefined ? '' : String(advance.deadLettered),
      ),
    );
    if (readRun && to !== undefined) {
      // Read apart, not in a pipeline with the advance: on a Redis that just restarted the
      // script is not loaded, and ioredis sends it again after the pipeline's other commands.
      const [start, through] = await redis.hmget(key, field.start, field.through);
      const begunByThis = start === String(advance.from) && through === String(to);
      const readRunWithin = readRun.start >= advance.from && readRun.through <= to;
      if (begunByThis && !readRunWithin) {
        await writeAcknowledged(redis, replicaWait, (c) => c.hdel(key, field.start, field.through));
        return false;
      }
    }
    if (advance.repair && to !== undefined) {
      const start = await redis.hget(key, field.start);
      if (start !== null && to + 1n < BigInt(start)) {
        await writeAcknowledged(redis, replicaWait, (c) =>
          c.hset(key, field.start, String(advance.from), field.through, String(to)),
        );
        return true;
      }
    }
    return Number(joined) === 1;
  } catch (error) {
    throw redisCallError(error, { call: `advancing the ledger of ${partition}` });
  }
}
