/**
 * The built-in mutations, each made only through defineMutation (core/mutations/define.ts), as
 * any user's own: counters (hincrby, debit, transfer), leaderboards (zincrby, zmax, zmin), fields
 * set by version (hsetIfNewer) and sets (sadd, srem). docs/event-format.md, "Operations", has one
 * row each.
 */
import { createMutationRegistry, type MutationRegistry } from '../registry.ts';
import { zmaxMutation, zminMutation } from './best-score.ts';
import { debitMutation } from './debit.ts';
import { hincrbyMutation } from './hincrby.ts';
import { hsetIfNewerMutation } from './hset-if-newer.ts';
import { saddMutation, sremMutation } from './membership.ts';
import { transferMutation } from './transfer.ts';
import { zincrbyMutation } from './zincrby.ts';

export const builtinMutations = [
  zincrbyMutation,
  hincrbyMutation,
  hsetIfNewerMutation,
  debitMutation,
  transferMutation,
  zmaxMutation,
  zminMutation,
  saddMutation,
  sremMutation,
] as const;

/** The registry of the built-in mutations: what everything uses unless given another. */
export const defaultMutations: MutationRegistry = createMutationRegistry(builtinMutations);
