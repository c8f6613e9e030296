/**
 * The sequence guard of lua/applyBatch-6.lua, with the registered mutations' models, as a pure
 * model: plain data in, plain data out, no Redis. It is the one statement in TypeScript of what
 * the guard does, for everything that must agree with the Lua: verify (the expected state of a
 * topic), rebuild (folding the stream), the demo's verdict, the benchmarks' checks and the tests,
 * which also check it against the Lua itself (test/integration/apply-batch.property.test.ts).
 *
 * - applyMutation(): step 2, a mutation as the guard runs it: its model's refuse, then its
 *   apply, with Redis's refusals (another type, a counter leaving int64, a score that is not a
 *   number); applyRecorded(): the apply alone, for an event the stream says was applied.
 * - guard(): steps 1 to 4 for one event: the verdict against the cursor and the gaps, the
 *   mutation, the cursor and gap moves, the running totals and the checkpoint.
 */
import { topicPartition } from '../events/topic-partition.ts';
import type { GuardedEvent, Mutation } from '../events/types.ts';
import type { StreamEntry } from '../layout/codecs.ts';
import { cursorField } from '../layout/keys.ts';
import { defaultMutations } from '../mutations/builtins/index.ts';
import { type MutationRegistry, mutationData, sumsOf } from '../mutations/registry.ts';
import {
  emptyStateModel,
  type ModelScore,
  type ModelValue,
  type MutationRejection,
  type StateModel,
} from '../mutations/state.ts';

export {
  emptyStateModel,
  type ModelScore,
  type ModelValue,
  type MutationRejection,
  type StateModel,
};

// ----------------------------------------------------------------------------------------------
// Outcomes

export type RejectionReason = 'belowFirstSeq' | MutationRejection;

export type GuardOutcome =
  | { kind: 'applied' }
  | { kind: 'appliedLate' }
  | { kind: 'gapOpened' }
  | { kind: 'duplicate' }
  /** A business refusal (its mutation's `refusals`): final, the seq consumed, nothing changed. */
  | { kind: 'refused'; reason: string }
  | { kind: 'rejected'; reason: RejectionReason; message: string };

/** Every outcome the guard has but refusals, one object each (compare with toEqual, or by kind). */
export const guardOutcomes = {
  applied: { kind: 'applied' },
  appliedLate: { kind: 'appliedLate' },
  gapOpened: { kind: 'gapOpened' },
  duplicate: { kind: 'duplicate' },
  rejected: {
    belowFirstSeq: {
      kind: 'rejected',
      reason: 'belowFirstSeq',
      message: 'seq is below the first seq of its scope',
    },
    wrongType: {
      kind: 'rejected',
      reason: 'wrongType',
      message: 'the state key holds another Redis type than the operation needs',
    },
    mutationFailed: {
      kind: 'rejected',
      reason: 'mutationFailed',
      message: 'Redis refused the mutation (the stored value or the result is not a valid number)',
    },
  },
} as const satisfies {
  [K in Exclude<GuardOutcome['kind'], 'rejected' | 'refused'>]: GuardOutcome;
} & { rejected: Record<RejectionReason, GuardOutcome> };

/** The outcome of an event refused for `reason`. */
export function refusedOutcome(reason: string): GuardOutcome {
  return { kind: 'refused', reason };
}

// ----------------------------------------------------------------------------------------------
// Mutations

/** What step 2 made of a mutation. */
export type MutationStep =
  | { kind: 'applied' }
  | { kind: 'refused'; reason: string }
  | { kind: 'rejected'; reason: MutationRejection };

function registeredOf(mutations: MutationRegistry, op: string) {
  const registered = mutations.get(op);
  if (registered === undefined) throw new TypeError(`"${op}" is not a registered mutation`);
  return registered;
}

/**
 * Step 2 of applyBatch-6.lua: the mutation's refuse, then its apply, as the guard runs them. A
 * refused or rejected mutation changes nothing.
 */
export function applyMutation(
  model: StateModel,
  mutation: Mutation,
  mutations: MutationRegistry = defaultMutations,
): MutationStep {
  const registered = registeredOf(mutations, mutation.op);
  const data = mutationData(registered, mutation);
  const reason = registered.definition.model.refuse?.(model, data);
  if (reason !== undefined) return { kind: 'refused', reason };
  const rejection = registered.definition.model.apply(model, data);
  return rejection === undefined ? { kind: 'applied' } : { kind: 'rejected', reason: rejection };
}

/**
 * The apply alone, for a mutation the guard applied (a stream entry without a refusal): a
 * rebuild folds it without judging it again, since the state it was judged on may be only partly
 * in the fold (the far side of a transfer). Returns why Redis would refuse it, or undefined.
 */
export function applyRecorded(
  model: StateModel,
  mutation: Mutation,
  mutations: MutationRegistry = defaultMutations,
): MutationRejection | undefined {
  const registered = registeredOf(mutations, mutation.op);
  return registered.definition.model.apply(model, mutationData(registered, mutation));
}

// ----------------------------------------------------------------------------------------------
// The guard

/** A cursor field's guard state: what the Lua keeps in `cursors` and `gaps`. */
export interface CursorModel {
  value: bigint;
  /** Open ranges [first, last] of missing seqs, sorted and disjoint. */
  gaps: [bigint, bigint][];
}

/** One shard as the guard keeps it. */
export interface ShardModel extends StateModel {
  /** cursor field -> cursor and open gaps */
  cursors: Map<string, CursorModel>;
  /** `<topic>-<partition>` -> the highest offset guarded in this shard */
  checkpoints: Map<string, bigint>;
  /** state name -> running totals (meta `n:<name>`, `sum:<name>`) */
  totals: Map<string, { count: number; sum: number }>;
  /** Events applied to the shard (meta `applied`). */
  applied: number;
}

export function emptyShardModel(): ShardModel {
  return {
    ...emptyStateModel(),
    cursors: new Map(),
    checkpoints: new Map(),
    totals: new Map(),
    applied: 0,
  };
}

/** What the guard needs of an event. */
export interface GuardStep {
  /** The cursor field (keys.ts cursorField): `s:<scope>` or `o:<topic>-<partition>`. */
  field: string;
  /** The seq; the offset for an event without one. */
  seq: bigint;
  /** Guarded by offset (an event without a seq): no gaps, no first seq. */
  byOffset: boolean;
  mutation: Mutation;
  /** Its record's place, whose checkpoint is raised; absent when not known. */
  position?: { tp: string; offset: bigint };
}

export function guardStepOf(event: GuardedEvent): GuardStep {
  const { sequence, record } = event;
  const offset = BigInt(record.offset);
  return {
    field: cursorField(sequence, record),
    seq: sequence === null ? offset : BigInt(sequence.seq),
    byOffset: sequence === null,
    mutation: event.mutation,
    position: { tp: topicPartition(record), offset },
  };
}

/** Index of the open gap holding seq, or -1. */
function gapHolding(gaps: [bigint, bigint][], seq: bigint): number {
  let low = 0;
  let high = gaps.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = gaps[middle] as [bigint, bigint];
    if (seq < first) high = middle - 1;
    else if (seq > last) low = middle + 1;
    else return middle;
  }
  return -1;
}

type Verdict = 'applied' | 'gapOpened' | 'appliedLate' | 'duplicate' | 'belowFirstSeq';

/** Step 1: the guard's verdict, before anything moves. */
function judge(
  cursor: CursorModel | undefined,
  step: GuardStep,
  firstSeq: bigint,
): { verdict: Verdict; gapIndex: number } {
  const { seq } = step;
  if (step.byOffset) {
    const duplicate = cursor !== undefined && seq <= cursor.value;
    return { verdict: duplicate ? 'duplicate' : 'applied', gapIndex: -1 };
  }
  const next = cursor === undefined ? firstSeq : cursor.value + 1n;
  if (seq === next) return { verdict: 'applied', gapIndex: -1 };
  if (seq > next) return { verdict: 'gapOpened', gapIndex: -1 };
  if (cursor === undefined) return { verdict: 'belowFirstSeq', gapIndex: -1 };
  const gapIndex = gapHolding(cursor.gaps, seq);
  return { verdict: gapIndex < 0 ? 'duplicate' : 'appliedLate', gapIndex };
}

/** Step 3: an event whose mutation Redis accepted moves the cursor, or shrinks its gap. */
function advance(
  shard: ShardModel,
  step: GuardStep,
  verdict: Verdict,
  gapIndex: number,
  firstSeq: bigint,
) {
  const { field, seq } = step;
  const cursor = shard.cursors.get(field);
  if (verdict === 'appliedLate' && cursor !== undefined) {
    const [first, last] = cursor.gaps[gapIndex] as [bigint, bigint];
    const rest: [bigint, bigint][] = [];
    if (first < seq) rest.push([first, seq - 1n]);
    if (seq < last) rest.push([seq + 1n, last]);
    cursor.gaps.splice(gapIndex, 1, ...rest);
    return;
  }
  if (cursor === undefined) {
    const gaps: [bigint, bigint][] = verdict === 'gapOpened' ? [[firstSeq, seq - 1n]] : [];
    shard.cursors.set(field, { value: seq, gaps });
    return;
  }
  if (verdict === 'gapOpened') cursor.gaps.push([cursor.value + 1n, seq - 1n]);
  cursor.value = seq;
}

/**
 * The exact sum of a state's totals while every delta added to it was an integer, null after a
 * fraction. The Lua keeps integer sums exact, well past 2^53 (exact decimal text, or Redis's
 * long double: lua/includes/runningTotals.lua), and the drift check compares a hash's sum with
 * it exactly; the model's `sum` is a double, so it is recomputed from this rather than added
 * to. Kept aside, so that totals stay `{ count, sum }`.
 */
const exactSums = new WeakMap<{ count: number; sum: number }, bigint | null>();
const integerDelta = /^-?\d+$/;

function addToSum(totals: { count: number; sum: number }, delta: string) {
  const held = exactSums.get(totals);
  // Totals made elsewhere (a copy) start exact from a sum that is still an exact integer.
  const exact =
    held !== undefined ? held : Number.isSafeInteger(totals.sum) ? BigInt(totals.sum) : null;
  if (exact !== null && integerDelta.test(delta)) {
    const next = exact + BigInt(delta);
    exactSums.set(totals, next);
    totals.sum = Number(next);
  } else {
    exactSums.set(totals, null);
    totals.sum += Number(delta);
  }
}

/** The running totals of an applied event: a count per state it touched, its sums. */
function addToTotals(shard: ShardModel, mutation: Mutation, mutations: MutationRegistry) {
  const sums = sumsOf(registeredOf(mutations, mutation.op), mutation);
  mutation.keys.forEach((name, i) => {
    let totals = shard.totals.get(name);
    if (totals === undefined) {
      totals = { count: 0, sum: 0 };
      shard.totals.set(name, totals);
    }
    if (mutation.keys.indexOf(name) === i) totals.count += 1;
    const sum = sums[i];
    if (sum !== false && sum !== undefined) addToSum(totals, sum);
  });
  shard.applied += 1;
}

/**
 * One event through the guard of its shard, as applyBatch-6.lua takes it: the verdict, the
 * mutation (a rejected one leaves no trace: no cursor move, no totals; a refused one consumes
 * its seq and moves nothing else), the cursor or gap move, the running totals, and the
 * checkpoint, raised for every event that is not rejected. `firstSeq` is the seq a scope
 * without a cursor starts at.
 */
export function guard(
  shard: ShardModel,
  step: GuardStep,
  firstSeq: bigint,
  mutations: MutationRegistry = defaultMutations,
): GuardOutcome {
  const { verdict, gapIndex } = judge(shard.cursors.get(step.field), step, firstSeq);
  if (verdict === 'belowFirstSeq') return guardOutcomes.rejected.belowFirstSeq;
  let outcome: GuardOutcome = guardOutcomes[verdict];
  if (verdict !== 'duplicate') {
    const result = applyMutation(shard, step.mutation, mutations);
    if (result.kind === 'rejected') return guardOutcomes.rejected[result.reason];
    advance(shard, step, verdict, gapIndex, firstSeq);
    if (result.kind === 'refused') outcome = refusedOutcome(result.reason);
    else addToTotals(shard, step.mutation, mutations);
  }
  const { position } = step;
  if (position !== undefined) {
    const checkpoint = shard.checkpoints.get(position.tp);
    if (checkpoint === undefined || position.offset > checkpoint) {
      shard.checkpoints.set(position.tp, position.offset);
    }
  }
  return outcome;
}

/** guard() for a decoded event. */
export function guardEvent(
  shard: ShardModel,
  event: GuardedEvent,
  firstSeq: bigint,
  mutations: MutationRegistry = defaultMutations,
): GuardOutcome {
  return guard(shard, guardStepOf(event), firstSeq, mutations);
}

/** Applied, in any way: the outcomes that count in the totals. */
export function isApplied(outcome: GuardOutcome): boolean {
  return (
    outcome.kind === 'applied' || outcome.kind === 'appliedLate' || outcome.kind === 'gapOpened'
  );
}

/** Whether the guard appends a stream entry for the outcome: applied, or refused. */
export function isRecorded(outcome: GuardOutcome): boolean {
  return isApplied(outcome) || outcome.kind === 'refused';
}

/** The stream entry the guard appends for an applied or refused event. */
export function streamEntryOf(event: GuardedEvent, outcome: GuardOutcome): StreamEntry {
  const { sequence, record, mutation } = event;
  return {
    scope: cursorField(sequence, record),
    seq: sequence?.seq ?? record.offset,
    tp: topicPartition(record),
    offset: record.offset,
    ts: String(record.timestamp),
    op: mutation.op,
    keys: [...mutation.keys],
    args: [...mutation.args],
    late: outcome.kind === 'appliedLate',
    refused: outcome.kind === 'refused' ? outcome.reason : undefined,
  };
}
