/**
 * Rebuild: recomputes one state of a shard (a leaderboard, a counter or field hash) from the
 * shard's stream into a fresh key, and swaps it in atomically with lua/swapRebuilt-5.lua.
 *
 * The seed's cache warm-up replays deltas on top of the live scores, so every warm-up counts
 * them again. A rebuild starts from nothing instead: the fresh key holds exactly what the
 * applied events made, whatever was written around the pipeline, and running it twice gives the
 * same state. It needs the stream to hold every applied event of the state; when the stream was
 * trimmed, it refuses, and the repair is a replay from Kafka.
 */
import { randomUUID } from 'node:crypto';
import { RedisLayoutError, RedisUnavailableError } from '../../functions/shared/errors.ts';
import {
  applyMutation,
  emptyStateModel,
  type ModelValue,
  type StateModel,
} from '../../functions/shared/guard-model.ts';
import type { RedisClient } from '../../functions/shared/redis/client.ts';
import {
  rebuildKey,
  rebuildVersionsKey,
  shardKeys,
  stateKey,
} from '../../functions/shared/redis/keys.ts';
import {
  decodeStreamEntry,
  entryMutation,
  metaField,
  parseScore,
  type StreamEntry,
  scoreText,
  versionField,
} from '../../functions/shared/redis/layout.ts';

export interface RebuildOptions {
  shard: string;
  /** The state name, as events carry it in `key`. */
  name: string;
  keyPrefix: string;
  /** Stream entries per XRANGE call. */
  pageSize?: number;
  /** Members or fields per write to the fresh key. */
  writeBatchSize?: number;
  /**
   * Called after the fold, with the fresh key written, right before the swap. Tests apply events
   * here to show that events applied while a rebuild runs are not lost.
   */
  beforeSwap?: () => Promise<void>;
}

export type RefusalReason =
  | 'streamTrimmed'
  | 'streamAheadOfMeta'
  | 'unfoldable'
  | 'freshKeyExpired'
  | 'nothingRecorded';

export type RebuildOutcome =
  | {
      kind: 'rebuilt';
      /** Stream entries of the state folded, those applied at the swap included. */
      entries: number;
      /** Members or fields of the state now live (0: the rebuilt state is empty, the key gone). */
      targets: number;
      /** Members or fields whose live value was not the rebuilt one: the drift repaired. */
      changedTargets: number;
      /** Entries applied while the rebuild ran, folded in by the swap itself. */
      entriesAtSwap: number;
    }
  | {
      kind: 'refused';
      reason: RefusalReason;
      message: string;
      /** Stream entries of the state found. */
      streamEntries: number;
      /** Events applied to the state, as meta n:<name> counts them. */
      appliedEvents: number;
    };

const defaultPageSize = 10_000;
const defaultWriteBatchSize = 1_000;
/** A rebuild that dies leaves its fresh keys behind; they expire instead of piling up. */
const freshKeyTtlMs = 24 * 60 * 60 * 1_000;

/** The state the stream entries of one name make, folded in stream order. */
interface Fold {
  name: string;
  /** The guard's model of the state, holding this one name (and its versions). */
  model: StateModel;
  entries: number;
  /** The last stream id read (of any name); "0-0" before the first. */
  lastId: string;
}

/**
 * Applies one entry to the fold as the guard applied it to the state (the guard model's
 * applyMutation): ZINCRBY adds doubles from 0 in the same order (so the result is the same
 * double), HINCRBY adds int64 exactly, and hsetIfNewer sets the field only when its version is
 * above the highest seen (a stale version was appended to the stream too, but changed nothing).
 * Returns why it cannot, or undefined.
 */
function foldEntry(fold: Fold, entry: StreamEntry): string | undefined {
  const rejection = applyMutation(fold.model, entryMutation(entry));
  if (rejection === 'wrongType') return 'the entries mix sorted-set and hash operations';
  if (rejection !== undefined) return `Redis refuses its ${entry.op} of "${entry.value}"`;
  return undefined;
}

/** Reads the whole stream in pages and folds the entries of `name`. */
async function foldStream(
  redis: RedisClient,
  streamKey: string,
  name: string,
  pageSize: number,
): Promise<{ fold: Fold; problem?: string }> {
  const fold: Fold = { name, model: emptyStateModel(), entries: 0, lastId: '0-0' };
  const read = (after: string) => redis.xrange(streamKey, `(${after}`, '+', 'COUNT', pageSize);
  let page = await read(fold.lastId);
  for (;;) {
    // The next page is asked for before this one is folded: Redis and the socket work on it
    // meanwhile.
    const lastOfPage = page.at(-1)?.[0];
    const next = page.length < pageSize || lastOfPage === undefined ? undefined : read(lastOfPage);
    for (const [id, flat] of page) {
      fold.lastId = id;
      let problem: string | undefined;
      try {
        const entry = decodeStreamEntry(flat);
        if (entry.key !== name) continue;
        fold.entries++;
        problem = foldEntry(fold, entry);
      } catch (error) {
        // Not an entry the guard writes, or an hsetIfNewer without its version.
        problem = (error as Error).message;
      }
      if (problem !== undefined) {
        await next?.catch(() => {});
        return { fold, problem: `entry ${id}: ${problem}` };
      }
    }
    if (next === undefined) return { fold };
    page = await next;
  }
}

function folded(fold: Fold): ModelValue | undefined {
  return fold.model.state.get(fold.name);
}

function targetCount(fold: Fold): number {
  const value = folded(fold);
  if (value === undefined) return 0;
  return value.type === 'zset' ? value.members.size : value.fields.size;
}

async function execOrThrow(transaction: ReturnType<RedisClient['multi']>): Promise<void> {
  const replies = await transaction.exec();
  if (replies === null) throw new Error('the transaction was discarded');
  for (const [error] of replies) if (error) throw error;
}

/**
 * Writes the fold into the fresh key (and the versions it kept into the fresh versions hash) in
 * batches, each in a MULTI with the safety TTL, so no batch is ever left without one.
 */
async function writeFresh(
  redis: RedisClient,
  fold: Fold,
  fresh: string,
  freshVersions: string,
  batchSize: number,
): Promise<void> {
  const value = folded(fold);
  if (value?.type === 'zset') {
    const members = [...value.members];
    for (let i = 0; i < members.length; i += batchSize) {
      const args = members
        .slice(i, i + batchSize)
        .flatMap(([member, { score }]) => [scoreText(score), member]);
      await execOrThrow(
        redis
          .multi()
          .zadd(fresh, ...args)
          .pexpire(fresh, freshKeyTtlMs),
      );
    }
    return;
  }
  if (value === undefined) return;
  const fields = [...value.fields];
  const versions = fold.model.versions.get(fold.name);
  for (let i = 0; i < fields.length; i += batchSize) {
    const batch = fields.slice(i, i + batchSize);
    const transaction = redis
      .multi()
      .hset(fresh, ...batch.flatMap(([field, text]) => [field, String(text)]))
      .pexpire(fresh, freshKeyTtlMs);
    // In the guard's own encoding, so that the swap applies the tail's hsetIfNewer entries with
    // the guard's own script include (lua/includes/mutateHsetIfNewer.lua).
    const batchVersions = batch.flatMap(([field]) => {
      const version = versions?.get(field);
      return version === undefined ? [] : [versionField(fold.name, field), String(version)];
    });
    if (batchVersions.length > 0) {
      transaction.hset(freshVersions, ...batchVersions).pexpire(freshVersions, freshKeyTtlMs);
    }
    await execOrThrow(transaction);
  }
}

/**
 * The targets whose live value is not the folded one, read in pages (SCAN does not block Redis).
 * Targets touched by events applied after the fold differ legitimately; the swap compares those.
 */
async function driftedTargets(redis: RedisClient, live: string, fold: Fold): Promise<Set<string>> {
  const drifted = new Set<string>();
  const seen = new Set<string>();
  const value = folded(fold);
  const liveType = await redis.type(live);
  if (liveType === 'zset' || liveType === 'hash') {
    let cursor = '0';
    do {
      const [next, flat] =
        liveType === 'zset'
          ? await redis.zscan(live, cursor, 'COUNT', 1_000)
          : await redis.hscan(live, cursor, 'COUNT', 1_000);
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const target = flat[i] as string;
        const text = flat[i + 1] as string;
        if (seen.has(target)) continue; // SCAN may return an element more than once
        seen.add(target);
        const same =
          value?.type === 'zset' && liveType === 'zset'
            ? value.members.get(target)?.score === parseScore(text)
            : value?.type === 'hash' && liveType === 'hash'
              ? value.fields.has(target) && String(value.fields.get(target)) === text
              : false;
        if (!same) drifted.add(target);
      }
      cursor = next;
    } while (cursor !== '0');
  }
  const targets =
    value === undefined ? [] : value.type === 'zset' ? value.members.keys() : value.fields.keys();
  for (const target of targets) if (!seen.has(target)) drifted.add(target);
  return drifted;
}

type SwapReply =
  | { kind: 'swapped'; tailEntries: number; targets: number; touched: Map<string, boolean> }
  | { kind: 'refused'; reason: RefusalReason; tailEntries: number; appliedEvents: number };

const refusalByStatus = new Map<number, RefusalReason>([
  [-1, 'streamTrimmed'],
  [-2, 'streamAheadOfMeta'],
  [-3, 'unfoldable'],
  [-4, 'freshKeyExpired'],
  [-5, 'nothingRecorded'],
]);

/** The wrapper of lua/swapRebuilt-5.lua. */
async function swapRebuilt(
  redis: RedisClient,
  keys: { stream: string; meta: string; live: string; fresh: string; freshVersions: string },
  args: { name: string; lastId: string; foldedEntries: number; foldedTargets: number },
): Promise<SwapReply> {
  let reply: unknown[];
  try {
    reply = await redis.swapRebuilt(
      keys.stream,
      keys.meta,
      keys.live,
      keys.fresh,
      keys.freshVersions,
      args.name,
      args.lastId,
      String(args.foldedEntries),
      String(args.foldedTargets),
    );
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (message.includes('SEQGUARD_LAYOUT')) throw new RedisLayoutError(message, { cause: error });
    throw new RedisUnavailableError(`swapRebuilt failed: ${message}`, { cause: error });
  }
  const [status, tailEntries, appliedEvents, targets, flat] = reply as [
    number,
    number,
    number,
    number,
    string[],
  ];
  const refusal = refusalByStatus.get(Number(status));
  if (refusal !== undefined) {
    return {
      kind: 'refused',
      reason: refusal,
      tailEntries: Number(tailEntries),
      appliedEvents: Number(appliedEvents),
    };
  }
  if (Number(status) !== 1 && Number(status) !== 2) {
    throw new RangeError(`swapRebuilt returned unknown status ${status}`);
  }
  const touched = new Map<string, boolean>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    touched.set(String(flat[i]), Number(flat[i + 1]) === 1);
  }
  return { kind: 'swapped', tailEntries: Number(tailEntries), targets: Number(targets), touched };
}

function refusalMessage(
  reason: RefusalReason,
  where: string,
  streamEntries: number,
  appliedEvents: number,
  detail = '',
): string {
  switch (reason) {
    case 'streamTrimmed':
      return (
        `${where}: the stream holds ${streamEntries} of the ${appliedEvents} events applied to it. ` +
        'The stream was trimmed (by length, SEQGUARD_STREAM_MAX_LEN, or by age, ' +
        'SEQGUARD_STREAM_MAX_AGE_SECONDS), so the state cannot be rebuilt from it: repair it by ' +
        'a replay from Kafka.'
      );
    case 'streamAheadOfMeta':
      return (
        `${where}: the stream holds ${streamEntries} entries but meta counts ${appliedEvents} ` +
        'applied events: the running totals were reset or the stream written around the guard.'
      );
    case 'unfoldable':
      return `${where}: the stream entries cannot be folded into one state (${detail || 'a mutation was refused'}).`;
    case 'freshKeyExpired':
      return `${where}: the rebuilt key expired before the swap (the rebuild took too long); run it again.`;
    case 'nothingRecorded':
      return (
        `${where}: no applied event of this state is recorded, yet its key exists. Rebuilding ` +
        'would delete it; its bookkeeping is more likely lost than its content wrong. Replay from Kafka.'
      );
  }
}

/**
 * Rebuilds state `name` of `shard` from the shard's stream and swaps it in atomically. Events
 * the guard applies while it runs are not lost: the swap applies them to the rebuilt state in
 * the same atomic execution as the RENAME. Refuses (and writes nothing live) when the stream no
 * longer holds every applied event of the state. Throws RedisUnavailableError when Redis fails
 * and RedisLayoutError when the stream or meta key holds another type; the fresh keys are
 * deleted whenever the rebuild does not complete.
 */
export async function rebuildState(
  redis: RedisClient,
  options: RebuildOptions,
): Promise<RebuildOutcome> {
  const { shard, name, keyPrefix } = options;
  const pageSize = options.pageSize ?? defaultPageSize;
  const writeBatchSize = options.writeBatchSize ?? defaultWriteBatchSize;
  const where = `shard "${shard}", state "${name}"`;
  const { stream, meta } = shardKeys(shard, keyPrefix);
  const live = stateKey(shard, name, keyPrefix);
  const token = randomUUID();
  const fresh = rebuildKey(shard, name, token, keyPrefix);
  // Same builder, another token: the versions of the fold's hsetIfNewer fields, which the swap
  // needs to apply the tail's hsetIfNewer entries as the guard did.
  const freshVersions = rebuildVersionsKey(shard, name, token, keyPrefix);

  const refused = (
    reason: RefusalReason,
    streamEntries: number,
    appliedEvents: number,
    detail?: string,
  ): RebuildOutcome => ({
    kind: 'refused',
    reason,
    message: refusalMessage(reason, where, streamEntries, appliedEvents, detail),
    streamEntries,
    appliedEvents,
  });

  const onRedis = async <T>(step: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      throw new RedisUnavailableError(`${where}: ${step} failed: ${message}`, { cause: error });
    }
  };

  try {
    // Every event counted here was appended to the stream in the same script execution, before
    // the fold starts: a complete stream yields at least this many entries of the name.
    const appliedBefore = Number(
      (await onRedis('reading meta', () => redis.hget(meta, metaField.count(name)))) ?? 0,
    );
    const { fold, problem } = await onRedis('reading the stream', () =>
      foldStream(redis, stream, name, pageSize),
    );
    if (problem !== undefined) return refused('unfoldable', fold.entries, appliedBefore, problem);
    if (fold.entries < appliedBefore) {
      return refused('streamTrimmed', fold.entries, appliedBefore);
    }

    await onRedis('writing the rebuilt state', () =>
      writeFresh(redis, fold, fresh, freshVersions, writeBatchSize),
    );
    const drifted = await onRedis('reading the live state', () =>
      driftedTargets(redis, live, fold),
    );
    await options.beforeSwap?.();

    const swap = await swapRebuilt(
      redis,
      { stream, meta, live, fresh, freshVersions },
      {
        name,
        lastId: fold.lastId,
        foldedEntries: fold.entries,
        foldedTargets: targetCount(fold),
      },
    );
    if (swap.kind === 'refused') {
      return refused(swap.reason, fold.entries + swap.tailEntries, swap.appliedEvents);
    }
    let changedTargets = 0;
    for (const target of drifted) if (!swap.touched.has(target)) changedTargets++;
    for (const differs of swap.touched.values()) if (differs) changedTargets++;
    return {
      kind: 'rebuilt',
      entries: fold.entries + swap.tailEntries,
      targets: swap.targets,
      changedTargets,
      entriesAtSwap: swap.tailEntries,
    };
  } catch (error) {
    // Best effort: the fresh keys also carry a TTL for when this cannot reach Redis either.
    await redis.unlink(fresh, freshVersions).catch(() => {});
    throw error;
  }
}
