/**
 * The wrapper of lua/applyBatch-6.lua: one call applies one chunk of one shard's events.
 */

import { topicPartition } from '../events/topic-partition.ts';
import type { GuardedEvent } from '../events/types.ts';
import { maxChunkEvents } from '../guard/chunks.ts';
import { type GuardOutcome, guardOutcomes } from '../guard/model.ts';
import { cursorField, shardKeys, stateKey } from '../layout/keys.ts';
import type { ExpectedCheckpoints } from '../sink/ports.ts';
import type { RedisClient } from './client.ts';
import { type ReplicaWait, writeAcknowledged } from './replica-wait.ts';
import { redisCallError } from './script-error.ts';

export interface GuardOptions {
  /** The seq a scope starts at: a first event above it opens a gap, below it is rejected. */
  firstSeq: string;
  /** Approximate cap on entries per shard stream; 0 for none. */
  streamMaxLen: number;
  /** Stream entries older than this are trimmed; 0 keeps them. */
  streamMaxAgeMs: number;
  keyPrefix: string;
  /**
   * Replicas that must acknowledge each write before it is reported as done (the chunk here,
   * and the sink's dead letters and ledger advances); absent or 0 replicas: no wait.
   */
  replicaWait?: ReplicaWait;
}

/** applyBatch-6.lua's reply: one letter per event. */
const outcomeByLetter: Readonly<Record<string, GuardOutcome>> = {
  A: guardOutcomes.applied,
  L: guardOutcomes.appliedLate,
  G: guardOutcomes.gapOpened,
  D: guardOutcomes.duplicate,
  B: guardOutcomes.rejected.belowFirstSeq,
  W: guardOutcomes.rejected.wrongType,
  M: guardOutcomes.rejected.mutationFailed,
};

const integerText = /^-?\d+$/;
/** Integers below this in size are exact in HINCRBYFLOAT's long double (64-bit mantissa). */
const exactSumLimit = 2n ** 63n;

/**
 * Per state name, the exact sum of the chunk's deltas of that state as decimal text, or false
 * when one of them is not an integer, or their sizes add up to 2^63 or more. The guard starts
 * its running totals from it and takes off the events it did not apply
 * (lua/includes/runningTotals.lua), so an applied event costs it no arithmetic.
 */
function deltaSums(names: readonly string[], events: readonly GuardedEvent[]): (string | false)[] {
  const sums = names.map(() => 0n);
  const sizes = names.map(() => 0n);
  const exact = names.map(() => true);
  const indexOfName = new Map(names.map((name, i) => [name, i]));
  for (const { mutation } of events) {
    if (mutation.op === 'hsetIfNewer') continue;
    const i = indexOfName.get(mutation.key) as number;
    if (!exact[i]) continue;
    if (!integerText.test(mutation.value)) {
      exact[i] = false;
      continue;
    }
    const delta = BigInt(mutation.value);
    sums[i] = (sums[i] as bigint) + delta;
    sizes[i] = (sizes[i] as bigint) + (delta < 0n ? -delta : delta);
    if ((sizes[i] as bigint) >= exactSumLimit) exact[i] = false;
  }
  return sums.map((sum, i) => (exact[i] ? sum.toString() : false));
}

/**
 * The KEYS and ARGV of one applyBatch call. Exported for the benchmark's unguarded ceiling
 * (bench/unguarded-batch.lua), which takes the same arguments.
 */
export function applyBatchArguments(
  shard: string,
  events: readonly GuardedEvent[],
  options: GuardOptions,
  expected: ExpectedCheckpoints,
) {
  const names: string[] = [];
  const indexOfName = new Map<string, number>();
  const rows = events.map((event) => {
    const { mutation, record, sequence } = event;
    let index = indexOfName.get(mutation.key);
    if (index === undefined) {
      names.push(mutation.key);
      index = names.length;
      indexOfName.set(mutation.key, index);
    }
    return [
      cursorField(sequence, record),
      sequence?.seq ?? record.offset,
      topicPartition(record),
      record.offset,
      mutation.op,
      index,
      mutation.target,
      mutation.value,
      mutation.op === 'hsetIfNewer' ? mutation.version : '',
      String(record.timestamp),
    ];
  });
  const keys = shardKeys(shard, options.keyPrefix);
  const allKeys = [
    keys.cursors,
    keys.gaps,
    keys.offsets,
    keys.stream,
    keys.meta,
    keys.versions,
    ...names.map((name) => stateKey(shard, name, options.keyPrefix)),
  ];
  const argv = [
    options.firstSeq,
    String(options.streamMaxLen),
    String(options.streamMaxAgeMs),
    JSON.stringify(names),
    JSON.stringify(rows),
    JSON.stringify(expected),
    JSON.stringify(deltaSums(names, events)),
  ];
  return { allKeys, argv };
}

/**
 * Applies events (all of `shard`, in the order given) in one atomic script execution.
 * Returns one outcome per event; throws RedisLayoutError when nothing could be applied because a
 * bookkeeping key was overwritten, RedisBehindError when the shard holds less than `expected`
 * (its node lost writes: nothing applied), RedisNotReplicatedError when `options.replicaWait`
 * asks for replicas that did not acknowledge the chunk in time, and RedisUnavailableError when
 * the call did not complete (the script may or may not have run: the guard makes a retry safe
 * either way).
 */
export async function applyChunk(
  redis: RedisClient,
  shard: string,
  events: readonly GuardedEvent[],
  options: GuardOptions,
  expected: ExpectedCheckpoints = {},
): Promise<GuardOutcome[]> {
  if (events.length === 0) return [];
  if (events.length > maxChunkEvents) {
    throw new RangeError(`a chunk holds at most ${maxChunkEvents} events, got ${events.length}`);
  }
  const { allKeys, argv } = applyBatchArguments(shard, events, options, expected);
  let letters: string;
  try {
    letters = await writeAcknowledged(redis, options.replicaWait, (c) =>
      c.applyBatch(allKeys.length, ...allKeys, ...argv),
    );
  } catch (error) {
    throw redisCallError(error, {
      subject: `shard "${shard}"`,
      call: 'applyBatch',
      behind: (reading) =>
        `shard "${shard}" holds less than was written to it (${reading}): its node lost writes; check-drift replays them`,
    });
  }
  if (letters.length !== events.length) {
    throw new RangeError(
      `applyBatch returned ${letters.length} outcomes for ${events.length} events`,
    );
  }
  const outcomes: GuardOutcome[] = new Array(events.length);
  for (let i = 0; i < letters.length; i++) {
    const outcome = outcomeByLetter[letters[i] as string];
    if (outcome === undefined)
      throw new RangeError(`applyBatch returned unknown status ${letters[i]}`);
    outcomes[i] = outcome;
  }
  return outcomes;
}
