/**
 * The sequence guard and the state mutations of lua/applyBatch-6.lua, as a pure model: plain
 * data in, plain data out, no Redis. It is the one statement in TypeScript of what the guard
 * does, for everything that must agree with the Lua: verify (the expected state of a topic),
 * rebuild (folding the stream), the demo's verdict, the benchmarks' checks and the tests, which
 * also check it against the Lua itself (test/integration/apply-batch.property.test.ts).
 *
 * - applyMutation(): step 2, a mutation as Redis runs it (includes/stateMutation.lua), with
 *   Redis's refusals: another type, a counter leaving int64, a stored value that is not an
 *   integer, a score delta that underflows or a score that becomes NaN.
 * - guard(): steps 1 to 4 for one event: the verdict against the cursor and the gaps, the
 *   mutation, the cursor and gap moves, the running totals and the checkpoint.
 */
import { isInt64, parseInt64 } from '../events/int64.ts';
import { topicPartition } from '../events/topic-partition.ts';
import type { GuardedEvent, Mutation } from '../events/types.ts';
import type { StreamEntry } from '../layout/codecs.ts';
import { cursorField } from '../layout/keys.ts';

// ----------------------------------------------------------------------------------------------
// Outcomes

export type RejectionReason = 'belowFirstSeq' | 'wrongType' | 'mutationFailed';

export type GuardOutcome =
  | { kind: 'applied' }
  | { kind: 'appliedLate' }
  | { kind: 'gapOpened' }
  | { kind: 'duplicate' }
  | { kind: 'rejected'; reason: RejectionReason; message: string };

/** Every outcome the guard has, one object each (compare with toEqual, or by kind). */
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
  [K in Exclude<GuardOutcome['kind'], 'rejected'>]: GuardOutcome;
} & { rejected: Record<RejectionReason, GuardOutcome> };

// ----------------------------------------------------------------------------------------------
// State and mutations

/** A leaderboard member's score, with what bounds the float error of its sum. */
export interface ModelScore {
  score: number;
  /** Sum of the absolute deltas: the scale of the rounding error a different order may give. */
  magnitude: number;
  /** Every delta was an integer and every partial sum safe: any order gives this exact score. */
  exact: boolean;
}

/** A state key's contents: a sorted set, or a hash of counters (bigint) and fields (string). */
export type ModelValue =
  | { type: 'zset'; members: Map<string, ModelScore> }
  | { type: 'hash'; fields: Map<string, bigint | string> };

/** What the mutations of one shard touch: its state keys and its versions hash. */
export interface StateModel {
  /** state name -> contents (absent: the key does not exist). */
  state: Map<string, ModelValue>;
  /** state name -> field -> the version that last set it (hsetIfNewer). */
  versions: Map<string, Map<string, bigint>>;
}

export function emptyStateModel(): StateModel {
  return { state: new Map(), versions: new Map() };
}

/** Why Redis refuses a mutation, as the guard reports it. */
export type MutationRejection = Exclude<RejectionReason, 'belowFirstSeq'>;

/**
 * ZINCRBY parses the delta with strtod and refuses a result that underflowed to zero
 * (Redis util.c string2d, ERANGE), while JavaScript quietly reads "1e-400" as 0.
 */
function underflowsToZero(text: string, delta: number): boolean {
  return delta === 0 && /[1-9]/.test(text.split(/[eE]/)[0] ?? '');
}

function zincrby(
  model: StateModel,
  existing: ModelValue | undefined,
  name: string,
  member: string,
  text: string,
): MutationRejection | undefined {
  if (existing !== undefined && existing.type !== 'zset') return 'wrongType';
  const delta = Number(text);
  // Overflow ("1e400") is refused by strtod as underflow is; a delta is never NaN or infinite.
  if (!Number.isFinite(delta) || underflowsToZero(text, delta)) return 'mutationFailed';
  const before = existing?.members.get(member);
  if (before === undefined) {
    const members = existing?.members ?? new Map<string, ModelScore>();
    members.set(member, {
      score: 0 + delta,
      magnitude: Math.abs(delta),
      exact: Number.isInteger(delta) && Math.abs(delta) <= Number.MAX_SAFE_INTEGER,
    });
    if (existing === undefined) model.state.set(name, { type: 'zset', members });
    return undefined;
  }
  const score = before.score + delta;
  if (Number.isNaN(score)) return 'mutationFailed'; // inf + -inf: Redis refuses it
  before.score = score;
  before.magnitude += Math.abs(delta);
  before.exact =
    before.exact && Number.isInteger(delta) && before.magnitude <= Number.MAX_SAFE_INTEGER;
  return undefined;
}

function hashOf(model: StateModel, existing: ModelValue | undefined, name: string) {
  if (existing !== undefined) return (existing as Extract<ModelValue, { type: 'hash' }>).fields;
  const fields = new Map<string, bigint | string>();
  model.state.set(name, { type: 'hash', fields });
  return fields;
}

function hincrby(
  model: StateModel,
  existing: ModelValue | undefined,
  name: string,
  field: string,
  text: string,
): MutationRejection | undefined {
  if (existing !== undefined && existing.type !== 'hash') return 'wrongType';
  const delta = parseInt64(text);
  const stored = existing?.fields.get(field) ?? 0n;
  const current = typeof stored === 'bigint' ? stored : parseInt64(stored);
  if (delta === undefined || current === undefined) return 'mutationFailed';
  const sum = current + delta;
  if (!isInt64(sum)) return 'mutationFailed';
  hashOf(model, existing, name).set(field, sum);
  return undefined;
}

function hsetIfNewer(
  model: StateModel,
  existing: ModelValue | undefined,
  name: string,
  field: string,
  value: string,
  versionText: string,
): MutationRejection | undefined {
  const version = parseInt64(versionText);
  if (version === undefined) return 'mutationFailed';
  // The version is looked at before the key: a stale one is a no-op, whatever the key holds.
  const versions = model.versions.get(name);
  const current = versions?.get(field);
  if (current !== undefined && version <= current) return undefined;
  if (existing !== undefined && existing.type !== 'hash') return 'wrongType';
  hashOf(model, existing, name).set(field, value);
  if (versions === undefined) model.versions.set(name, new Map([[field, version]]));
  else versions.set(field, version);
  return undefined;
}

/**
 * Step 2 of applyBatch-6.lua: the mutation as Redis runs it (includes/stateMutation.lua).
 * Returns undefined when applied (a stale hsetIfNewer is applied as a no-op), or why Redis
 * refuses it; a refused mutation changes nothing.
 */
export function applyMutation(
  model: StateModel,
  mutation: Mutation,
): MutationRejection | undefined {
  const existing = model.state.get(mutation.key);
  switch (mutation.op) {
    case 'zincrby':
      return zincrby(model, existing, mutation.key, mutation.target, mutation.value);
    case 'hincrby':
      return hincrby(model, existing, mutation.key, mutation.target, mutation.value);
    case 'hsetIfNewer':
      return hsetIfNewer(
        model,
        existing,
        mutation.key,
        mutation.target,
        mutation.value,
        mutation.version,
      );
    default:
      return 'mutationFailed';
  }
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

function addToTotals(shard: ShardModel, mutation: Mutation) {
  let totals = shard.totals.get(mutation.key);
  if (totals === undefined) {
    totals = { count: 0, sum: 0 };
    shard.totals.set(mutation.key, totals);
  }
  totals.count += 1;
  if (mutation.op !== 'hsetIfNewer') totals.sum += Number(mutation.value);
  shard.applied += 1;
}

/**
 * One event through the guard of its shard, as applyBatch-6.lua takes it: the verdict, the
 * mutation (a refused one leaves no trace: no cursor move, no totals), the cursor or gap move,
 * the running totals, and the checkpoint, raised for every event that is not rejected.
 * `firstSeq` is the seq a scope without a cursor starts at.
 */
export function guard(shard: ShardModel, step: GuardStep, firstSeq: bigint): GuardOutcome {
  const { verdict, gapIndex } = judge(shard.cursors.get(step.field), step, firstSeq);
  if (verdict === 'belowFirstSeq') return guardOutcomes.rejected.belowFirstSeq;
  if (verdict !== 'duplicate') {
    const rejection = applyMutation(shard, step.mutation);
    if (rejection !== undefined) return guardOutcomes.rejected[rejection];
    advance(shard, step, verdict, gapIndex, firstSeq);
    addToTotals(shard, step.mutation);
  }
  const { position } = step;
  if (position !== undefined) {
    const checkpoint = shard.checkpoints.get(position.tp);
    if (checkpoint === undefined || position.offset > checkpoint) {
      shard.checkpoints.set(position.tp, position.offset);
    }
  }
  return guardOutcomes[verdict];
}

/** guard() for a decoded event. */
export function guardEvent(shard: ShardModel, event: GuardedEvent, firstSeq: bigint): GuardOutcome {
  return guard(shard, guardStepOf(event), firstSeq);
}

/** Applied, in any way: the outcomes that append a stream entry and count in the totals. */
export function isApplied(outcome: GuardOutcome): boolean {
  return (
    outcome.kind === 'applied' || outcome.kind === 'appliedLate' || outcome.kind === 'gapOpened'
  );
}

/** The stream entry the guard appends for an applied event. */
export function streamEntryOf(event: GuardedEvent, outcome: GuardOutcome): StreamEntry {
  const { sequence, record, mutation } = event;
  return {
    scope: cursorField(sequence, record),
    seq: sequence?.seq ?? record.offset,
    tp: topicPartition(record),
    offset: record.offset,
    op: mutation.op,
    key: mutation.key,
    target: mutation.target,
    value: mutation.value,
    ts: String(record.timestamp),
    version: mutation.op === 'hsetIfNewer' ? mutation.version : undefined,
    late: outcome.kind === 'appliedLate',
  };
}
