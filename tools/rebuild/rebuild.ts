/**
 * Rebuild: recomputes one state of a shard (a leaderboard, a counter or field hash) from the
 * shard's stream into a fresh key, and swaps it in atomically with lua/swapRebuilt-5.lua.
 * The steps, one file each: the fold (fold.ts), the writer of the fresh key (write-fresh.ts), the
 * diff against the live state (diff.ts) and the swap (swap-rebuilt.ts, the script's wrapper).
 *
 * The seed's cache warm-up replays deltas on top of the live scores, so every warm-up counts
 * them again. A rebuild starts from nothing instead: the fresh key holds exactly what the
 * applied events made, whatever was written around the pipeline, and running it twice gives the
 * same state. It needs the stream to hold every applied event of the state; when the stream was
 * trimmed, it refuses, and the repair is a replay from Kafka.
 */
import { randomUUID } from 'node:crypto';
import {
  defaultMutations,
  type MutationRegistry,
  metaField,
  type RedisClient,
  RedisUnavailableError,
  rebuildKey,
  rebuildScratchPrefix,
  rebuildVersionsKey,
  shardKeys,
  stateKey,
} from '../../core/index.ts';

import { driftedTargets } from './diff.ts';
import { foldStream, targetCount } from './fold.ts';
import { type RefusalReason, swapRebuilt } from './swap-rebuilt.ts';
import { writeFresh } from './write-fresh.ts';

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
  /** The registered mutations the stream's entries carry; the built-in ones when absent. */
  mutations?: MutationRegistry;
}

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
      foldStream(redis, stream, name, pageSize, options.mutations ?? defaultMutations),
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
        scratchPrefix: rebuildScratchPrefix(shard, name, token, keyPrefix),
      },
      options.mutations ?? defaultMutations,
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
