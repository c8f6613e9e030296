/**
 * The pure model's picture of a shard's state keys: what every mutation's model (core/mutations)
 * reads and writes, and what verify, rebuild and the property tests compare with Redis. A state
 * key is a sorted set, a hash of counters and texts, or a set, as in Redis.
 */
import { isInt64, parseInt64 } from '../events/int64.ts';

/** A leaderboard member's score, with what bounds the float error of its sum. */
export interface ModelScore {
  score: number;
  /** Sum of the absolute deltas: the scale of the rounding error a different order may give. */
  magnitude: number;
  /** Every delta was an integer and every partial sum safe: any order gives this exact score. */
  exact: boolean;
}

/** A state key's contents: a sorted set, a hash of counters (bigint) and fields, or a set. */
export type ModelValue =
  | { type: 'zset'; members: Map<string, ModelScore> }
  | { type: 'hash'; fields: Map<string, bigint | string> }
  | { type: 'set'; members: Set<string> };

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

/** Why Redis refuses a mutation's command: another type, or a value that is not a number. */
export type MutationRejection = 'wrongType' | 'mutationFailed';

type Of<T extends ModelValue['type']> = Extract<ModelValue, { type: T }>;

/**
 * The key `name` as a value of `type`: undefined when it does not exist, 'wrongType' when it
 * holds another type (Redis's WRONGTYPE).
 */
export function stateOf<T extends ModelValue['type']>(
  model: StateModel,
  name: string,
  type: T,
): Of<T> | undefined | 'wrongType' {
  const value = model.state.get(name);
  if (value === undefined) return undefined;
  return value.type === type ? (value as Of<T>) : 'wrongType';
}

/** The key `name` as a value of `type`, created empty when absent (the caller checked the type). */
export function ensureState<T extends ModelValue['type']>(
  model: StateModel,
  name: string,
  type: T,
): Of<T> {
  const value = model.state.get(name);
  if (value !== undefined) return value as Of<T>;
  const created = (
    type === 'zset'
      ? { type, members: new Map() }
      : type === 'hash'
        ? { type, fields: new Map() }
        : { type, members: new Set() }
  ) as Of<T>;
  model.state.set(name, created);
  return created;
}

/** Deletes the key when it became empty, as Redis does with an empty hash, set or sorted set. */
export function dropIfEmpty(model: StateModel, name: string): void {
  const value = model.state.get(name);
  if (value === undefined) return;
  const size = value.type === 'hash' ? value.fields.size : value.members.size;
  if (size === 0) model.state.delete(name);
}

/**
 * A hash field as HINCRBY reads it: 0 when absent, its integer, 'wrongType' when the key is not
 * a hash, 'mutationFailed' when the field does not hold an int64.
 */
export function counterOf(
  model: StateModel,
  name: string,
  field: string,
): bigint | MutationRejection {
  const hash = stateOf(model, name, 'hash');
  if (hash === 'wrongType') return 'wrongType';
  const stored = hash?.fields.get(field) ?? 0n;
  const value = typeof stored === 'bigint' ? stored : parseInt64(stored);
  return value === undefined ? 'mutationFailed' : value;
}

/** Sets a counter that counterOf read (the key's type was checked). */
export function setCounter(model: StateModel, name: string, field: string, value: bigint): void {
  ensureState(model, name, 'hash').fields.set(field, value);
}

/** Whether an int64 result stays within int64 (HINCRBY refuses one that would not). */
export { isInt64 };
