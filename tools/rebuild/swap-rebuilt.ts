/**
 * The wrapper of lua/swapRebuilt-5.lua: swaps a rebuilt state in for the live one, applying the
 * events the guard applied since the fold in the same atomic execution, or refuses and leaves the
 * live key as it was.
 */
import {
  defaultMutations,
  defineScript,
  type MutationRegistry,
  type RedisClient,
  redisCallError,
} from '../../core/index.ts';

/** Why a rebuild is refused; the script's refusals and the fold's own ('unfoldable'). */
export type RefusalReason =
  | 'streamTrimmed'
  | 'streamAheadOfMeta'
  | 'unfoldable'
  | 'freshKeyExpired'
  | 'nothingRecorded';

export type SwapReply =
  | {
      kind: 'swapped';
      /** Entries of the name after the fold's last id, applied by the swap. */
      tailEntries: number;
      /** Members or fields of the swapped-in state (0: the state is empty, the live key gone). */
      targets: number;
      /** Each target the tail touched, and whether its live value was not the rebuilt one. */
      touched: Map<string, boolean>;
    }
  | { kind: 'refused'; reason: RefusalReason; tailEntries: number; appliedEvents: number };

/** swapRebuilt-5.lua's refusal statuses. */
const refusalByStatus = new Map<number, RefusalReason>([
  [-1, 'streamTrimmed'],
  [-2, 'streamAheadOfMeta'],
  [-3, 'unfoldable'],
  [-4, 'freshKeyExpired'],
  [-5, 'nothingRecorded'],
]);

/**
 * Throws RedisLayoutError when the stream or meta key holds another type, and
 * RedisUnavailableError when the call did not complete.
 */
export async function swapRebuilt(
  redis: RedisClient,
  keys: { stream: string; meta: string; live: string; fresh: string; freshVersions: string },
  args: {
    name: string;
    lastId: string;
    foldedEntries: number;
    foldedTargets: number;
    /** Where the tail's other keys are written for a moment (keys.ts rebuildScratchPrefix). */
    scratchPrefix: string;
  },
  mutations: MutationRegistry = defaultMutations,
): Promise<SwapReply> {
  let reply: unknown[];
  const script = defineScript(redis, mutations.swapRebuilt);
  try {
    reply = await script(
      redis,
      keys.stream,
      keys.meta,
      keys.live,
      keys.fresh,
      keys.freshVersions,
      args.name,
      args.lastId,
      String(args.foldedEntries),
      String(args.foldedTargets),
      args.scratchPrefix,
    );
  } catch (error) {
    throw redisCallError(error, { call: 'swapRebuilt' });
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
