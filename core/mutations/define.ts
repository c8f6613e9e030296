/**
 * What a mutation is: one definition holds its name, its data (field kinds), which of its fields
 * name state keys and which go to the Lua as arguments, its Lua body with a contract header, and
 * its pure model. Registered in one list (registry.ts), it is all the bundler, the decoder, the
 * guard's dispatch, verify, rebuild, replay, the demo and the property tests need.
 * docs/your-own-mutation.md walks through one.
 */
import type { Field, Issue } from '../events/fields.ts';
import type { Mutation } from '../events/types.ts';
import type { LuaContract } from './lua-contract.ts';
import type { MutationRejection, StateModel } from './state.ts';

/** A mutation's data as its model and its hooks see it: every field as canonical text. */
export type MutationData<F extends string> = Readonly<Record<F, string>>;

/**
 * The pure model of a mutation: the TypeScript statement of what its Lua does, which every
 * checker uses in its place (the property tests hold the two to each other on a real Redis).
 */
export interface MutationModel<F extends string> {
  /**
   * The business check, read only: the reason the event is refused (one of the definition's
   * `refusals`), or undefined to apply it. Undefined also when the state cannot be judged (another
   * type, not a number): `apply` then says why Redis refuses it. Called only by the guard: a
   * refusal is final, and a rebuild folds what was applied without judging it again.
   */
  refuse?(state: StateModel, data: MutationData<F>): string | undefined;
  /**
   * The effect, as Redis runs it: undefined when applied, or why Redis refuses it. Both or
   * neither: a refused mutation changes nothing.
   */
  apply(state: StateModel, data: MutationData<F>): MutationRejection | undefined;
}

export interface MutationDefinition<K extends string = string, A extends string = string> {
  /** The event's `type` (the mapping's `op`): a letter, then letters and digits. */
  name: string;
  /** One line for the docs and errors. */
  summary: string;
  /** The event's `data`: field -> kind (core/events/fields.ts). */
  data: Readonly<Record<K | A, Field>>;
  /** The data fields that name state keys (kind `stateName`), in the Lua's parameter order. */
  keys: readonly K[];
  /** The data fields the Lua takes as arguments, in its parameter order after the keys. */
  args: readonly A[];
  /** For each key, the argument naming the member or field it touches there. */
  targets: Readonly<Record<K, A>>;
  /** The value of each optional field when an event leaves it out. */
  defaults?: Readonly<Partial<Record<K | A, string | ((data: MutationData<K | A>) => string)>>>;
  /**
   * Data that passes every field's check but cannot be an event (a transfer to itself): the
   * dead-letter reason, or undefined.
   */
  invalid?(data: MutationData<K | A>): string | undefined;
  /** The business reasons `refuse` may give: a letter, then letters and digits. */
  refusals?: readonly string[];
  /**
   * What an applied event adds to each key's running sum (meta `sum:<name>`), which the drift
   * check holds the state to: a decimal text per key, absent for a key whose sum it does not
   * move. Leave it out for mutations that set rather than add (the check then skips the key).
   */
  sums?(data: MutationData<K | A>): Partial<Record<K, string>>;
  /** The Lua body: a contract header, `apply<Name>` and, with refusals, `refuse<Name>`. */
  lua: string;
  model: MutationModel<K | A>;
}

/** A definition, typed: the field names of `keys`, `args` and the model are checked together. */
export function defineMutation<const K extends string, const A extends string>(
  definition: MutationDefinition<K, A>,
): MutationDefinition<K, A> {
  return definition;
}

// The registry's shapes (registry.ts builds them), here so that the schema can name them without
// importing the registry, which compiles the schema.

/** A definition as the registry keeps it: checked, compiled, with its field order. */
export interface RegisteredMutation {
  readonly definition: MutationDefinition;
  readonly contract: LuaContract;
  /** The compiled check of a whole envelope of this type (core/events/schema.ts). */
  readonly check: (envelope: unknown) => boolean;
  /** The data fields, keys first, then arguments: a Mutation's keys and args in this order. */
  readonly fields: readonly string[];
  /** A Mutation from data read into canonical text (mutationOf), or why it cannot be one. */
  toMutation(given: Readonly<Record<string, string | undefined>>): Mutation | Issue;
}

/** One registered script, with the ioredis command name it is defined under. */
export interface RegistryScript {
  name: string;
  lua: string;
  numberOfKeys?: number;
}

export interface MutationRegistry {
  /** The registered names, in registration order. */
  readonly names: readonly string[];
  get(op: string): RegisteredMutation | undefined;
  /** The guard (lua/applyBatch-6.lua) with these mutations. */
  readonly applyBatch: RegistryScript;
  /** The rebuild's swap (lua/swapRebuilt-6.lua) with these mutations. */
  readonly swapRebuilt: RegistryScript;
  /** Any script of lua/ that has the `--- @mutations` line (the benchmark's ceiling). */
  withMutations(lua: string): string;
  /**
   * A Mutation from an event's `data` as JSON would carry it ({key, member, delta}), checked as
   * the decoder checks it: throws a TypeError naming the fields that are wrong.
   */
  mutation(op: string, data: Readonly<Record<string, unknown>>): Mutation;
}
