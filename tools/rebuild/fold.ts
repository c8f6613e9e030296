/**
 * The fold of a rebuild: the state the stream entries of one name make, read from the whole
 * stream in pages and applied in stream order with the registered mutations' own models
 * (core/mutations), as the guard applied them to the state. Refused entries changed nothing and
 * are left out; applied ones are applied without being judged again (applyRecorded).
 */
import {
  applyRecorded,
  decodeStreamEntry,
  defaultMutations,
  emptyStateModel,
  entryMutation,
  type ModelValue,
  type MutationRegistry,
  type RedisClient,
  type StateModel,
  type StreamEntry,
} from '../../core/index.ts';

/** The state the stream entries of one name make, folded in stream order. */
export interface Fold {
  name: string;
  /** The guard's model of the state, holding this one name (and its versions). */
  model: StateModel;
  entries: number;
  /** The last stream id read (of any name); "0-0" before the first. */
  lastId: string;
}

/**
 * Applies one entry to the fold as the guard applied it to the state (the mutation's model):
 * ZINCRBY adds doubles from 0 in the same order (so the result is the same double), HINCRBY adds
 * int64 exactly, hsetIfNewer sets the field only when its version is above the highest seen (a
 * stale version was appended to the stream too, but changed nothing). Returns why it cannot, or
 * undefined.
 */
function foldEntry(
  fold: Fold,
  entry: StreamEntry,
  mutations: MutationRegistry,
): string | undefined {
  const registered = mutations.get(entry.op);
  if (registered === undefined) return `"${entry.op}" is not a registered mutation`;
  const { keys, args } = registered.definition;
  if (entry.keys.length !== keys.length || entry.args.length !== args.length) {
    return `its ${entry.op} has ${entry.keys.length} keys and ${entry.args.length} args, not ${keys.length} and ${args.length}`;
  }
  const rejection = applyRecorded(fold.model, entryMutation(entry), mutations);
  if (rejection === 'wrongType') return 'the entries mix Redis types under one name';
  if (rejection !== undefined)
    return `Redis refuses its ${entry.op} of ${JSON.stringify(entry.args)}`;
  return undefined;
}

/** Whether the guard applied the entry to state `name`. */
export function appliedTo(entry: StreamEntry, name: string): boolean {
  return entry.refused === undefined && entry.keys.includes(name);
}

/** Reads the whole stream in pages and folds the entries of `name`. */
export async function foldStream(
  redis: RedisClient,
  streamKey: string,
  name: string,
  pageSize: number,
  mutations: MutationRegistry = defaultMutations,
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
        if (!appliedTo(entry, name)) continue;
        fold.entries++;
        problem = foldEntry(fold, entry, mutations);
      } catch (error) {
        // Not an entry the guard writes.
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

/** The folded state of the name; undefined when it is empty. */
export function folded(fold: Fold): ModelValue | undefined {
  return fold.model.state.get(fold.name);
}

/** Members or fields of the folded state. */
export function targetCount(fold: Fold): number {
  const value = folded(fold);
  if (value === undefined) return 0;
  return value.type === 'hash' ? value.fields.size : value.members.size;
}
