/**
 * The wrapper of lua/applyBatch-6.lua: one call applies one chunk of one shard's events.
 */

import { topicPartition } from '../events/topic-partition.ts';
import type { GuardedEvent } from '../events/types.ts';
import { maxChunkEvents } from '../guard/chunks.ts';
import { type GuardOutcome, guardOutcomes, refusedOutcome } from '../guard/model.ts';
import { cursorField, shardKeys, stateKey } from '../layout/keys.ts';
import { defaultMutations } from '../mutations/builtins/index.ts';
import { type MutationRegistry, type RegisteredMutation, sumsOf } from '../mutations/registry.ts';
import type { ExpectedCheckpoints } from '../sink/ports.ts';
import type { RedisClient } from './client.ts';
import { defineScript } from './client.ts';
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
  /** The registered mutations the events carry; the built-in ones when absent. */
  mutations?: MutationRegistry;
}

/** applyBatch-6.lua's reply: one letter per event (R, a refusal, takes its reason in order). */
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
 * Per state name, what the chunk adds to it if every event applies: [count, sum], the number of
 * events that touch it (an event once, however many of its keys name it), and the exact sum of
 * their deltas as decimal text, or false when one of those is not an integer, or their sizes add
 * up to 2^63 or more. The guard starts its running totals from these and takes off the events it
 * does not apply (lua/includes/runningTotals.lua), so an applied event costs it nothing.
 */
function givenTotals(
  names: readonly string[],
  rows: readonly { index: number[]; sums: (string | false)[] }[],
): [number, string | false][] {
  const counts = names.map(() => 0);
  const sums = names.map(() => 0n);
  const sizes = names.map(() => 0n);
  const exact = names.map(() => true);
  for (const row of rows) {
    row.index.forEach((index, j) => {
      const i = index - 1; // state indexes are 1-based (Lua)
      if (row.index.indexOf(index) === j) counts[i] = (counts[i] as number) + 1;
      const text = row.sums[j] as string | false;
      if (text === false || !exact[i]) return;
      if (!integerText.test(text)) {
        exact[i] = false;
        return;
      }
      const delta = BigInt(text);
      sums[i] = (sums[i] as bigint) + delta;
      sizes[i] = (sizes[i] as bigint) + (delta < 0n ? -delta : delta);
      if ((sizes[i] as bigint) >= exactSumLimit) exact[i] = false;
    });
  }
  return sums.map((sum, i) => [counts[i] as number, exact[i] ? sum.toString() : false]);
}

/** Whether canonical decimal text a is above b. */
const offsetAbove = (a: string, b: string) =>
  a.length > b.length || (a.length === b.length && a > b);

function registeredOf(mutations: MutationRegistry, op: string): RegisteredMutation {
  const registered = mutations.get(op);
  if (registered === undefined) {
    throw new TypeError(`"${op}" is not a registered mutation of this guard's registry`);
  }
  return registered;
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
  const mutations = options.mutations ?? defaultMutations;
  const names: string[] = [];
  const indexOfName = new Map<string, number>();
  const indexOf = (name: string) => {
    let index = indexOfName.get(name);
    if (index === undefined) {
      names.push(name);
      index = names.length;
      indexOfName.set(name, index);
    }
    return index;
  };
  const parts = events.map((event) => {
    const { mutation } = event;
    const registered = registeredOf(mutations, mutation.op);
    return {
      index: mutation.keys.map(indexOf),
      sums: sumsOf(registered, mutation),
    };
  });
  // Per topic-partition, the highest offset of the chunk's events on it (the guard's checkpoint
  // raise when none of them is rejected).
  const highest: Record<string, string> = {};
  const rows = events.map((event, i) => {
    const { mutation, record, sequence } = event;
    const { index, sums } = parts[i] as (typeof parts)[number];
    const tp = topicPartition(record);
    const held = highest[tp];
    if (held === undefined || offsetAbove(record.offset, held)) highest[tp] = record.offset;
    return [
      cursorField(sequence, record),
      sequence?.seq ?? record.offset,
      tp,
      record.offset,
      String(record.timestamp),
      mutation.op,
      ...index,
      ...mutation.args,
      ...sums,
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
    JSON.stringify(givenTotals(names, parts)),
    JSON.stringify(highest),
  ];
  return { allKeys, argv };
}

/** The outcomes of a reply: a letter per event, then the reasons of the refused ones. */
function outcomesOf(reply: string, count: number): GuardOutcome[] {
  const [letters = '', ...reasons] = reply.split('\n');
  if (letters.length !== count) {
    throw new RangeError(`applyBatch returned ${letters.length} outcomes for ${count} events`);
  }
  const outcomes: GuardOutcome[] = new Array(count);
  let refused = 0;
  for (let i = 0; i < letters.length; i++) {
    const letter = letters[i] as string;
    if (letter === 'R') {
      const reason = reasons[refused++];
      if (reason === undefined)
        throw new RangeError('applyBatch returned a refusal without its reason');
      outcomes[i] = refusedOutcome(reason);
      continue;
    }
    const outcome = outcomeByLetter[letter];
    if (outcome === undefined) throw new RangeError(`applyBatch returned unknown status ${letter}`);
    outcomes[i] = outcome;
  }
  return outcomes;
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
  const script = defineScript(redis, (options.mutations ?? defaultMutations).applyBatch);
  let reply: string;
  try {
    reply = await writeAcknowledged(redis, options.replicaWait, (c) =>
      script(c, allKeys.length, ...allKeys, ...argv),
    );
  } catch (error) {
    throw redisCallError(error, {
      subject: `shard "${shard}"`,
      call: 'applyBatch',
      behind: (reading) =>
        `shard "${shard}" holds less than was written to it (${reading}): its node lost writes; check-drift replays them`,
    });
  }
  return outcomesOf(reply, events.length);
}
