/**
 * A delta-stream consumer (docs/reading.md, "The delta-stream view"): an in-process view of one
 * leaderboard, warmed from the state (or from the last N stream entries), then kept up to date
 * by tailing the shard's delta stream from the last entry it applied. The seed article's
 * LeaderboardCache, done so that every entry reaches the view exactly once:
 * - the warm-up reads the state and the stream's position in one transaction, so the tail
 *   starts right after the last entry the state holds;
 * - each page of the tail is read with the stream's counters (XINFO STREAM) in one transaction,
 *   and the view warms again, instead of skipping, when its next entry is gone: deleted by a
 *   trim (`max-deleted-entry-id` past the last entry applied), or rolled back (the stream's
 *   last id below it, or its `entries-added` not what the view counted: a node restarted empty
 *   or from an older snapshot).
 * Refused entries come through as refusals (`onEntry`) and change nothing.
 */

import { applyRecorded, emptyStateModel } from '../guard/model.ts';
import { decodeStreamEntry, entryMutation, type StreamEntry } from '../layout/codecs.ts';
import { defaultKeyPrefix, shardKeys, stateKey } from '../layout/keys.ts';
import { defaultMutations } from '../mutations/builtins/index.ts';
import type { MutationRegistry } from '../mutations/registry.ts';
import type { ModelScore, ModelValue, StateModel } from '../mutations/state.ts';
import type { RedisClient } from '../redis/client.ts';
import { redisCallError } from '../redis/script-error.ts';
import { type RankedMember, type RankOrder, scoreOf } from './reader.ts';

export interface StreamViewOptions {
  shard: string;
  /** The leaderboard (a sorted set state) the view holds. */
  name: string;
  /** The deployment's key prefix (SEQGUARD_KEY_PREFIX); default "sg". */
  keyPrefix?: string;
  /**
   * Where the view starts: "state" (default), the leaderboard as Redis holds it, or
   * `{ entries: N }`, the fold of the last N stream entries into an empty view (the seed's
   * warm-up window: the whole state only if the stream holds every entry since the start).
   */
  warm?: 'state' | { entries: number };
  /** Entries read per round trip while catching up; default 1,000. */
  pageSize?: number;
  /** How long one blocking read (XREAD BLOCK) waits for a new entry; default 1,000 ms. */
  blockMs?: number;
  /** The registered mutations, for mutations of your own; default the built-ins. */
  mutations?: MutationRegistry;
  /** Each entry the tail reads, applied or refused, after it reached the view. */
  onEntry?: (entry: StreamEntry, id: string) => void;
  /** The view warmed again: its next entry was gone (why says how). */
  onRewarm?: (why: string) => void;
  /** A read of the tail failed (it is tried again after a pause). */
  onError?: (error: Error) => void;
}

export interface StreamView {
  /** Warms the view and starts the tail; resolves once warm. */
  start(): Promise<void>;
  /** Stops the tail; the view keeps what it holds. */
  stop(): Promise<void>;
  /** Resolves once the view has applied every entry the stream held when it was called. */
  caughtUp(timeoutMs?: number): Promise<void>;
  score(member: string): number | undefined;
  /** As Reader.rank: 0-based, ties ordered by member (descending for "desc"). */
  rank(member: string, order?: RankOrder): RankedMember | undefined;
  top(n: number, order?: RankOrder): RankedMember[];
  /** Members in the view. */
  readonly size: number;
  /** The id of the last stream entry applied ("0-0": none). */
  readonly lastId: string;
  /** Warm-ups so far (the first included). */
  readonly warmups: number;
  /** Entries the tail applied (refusals included) since the last warm-up. */
  readonly tailed: number;
}

/** A stream entry id, compared as Redis orders them. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

/**
 * Member order as Redis keeps a sorted set: by UTF-8 bytes, which is code point order. UTF-16
 * code units follow it except that surrogates (U+D800 to U+DFFF, the halves of code points past
 * U+FFFF) sort below U+E000 to U+FFFF; the first unit that differs decides, lifted past them.
 * Two members without units from U+D800 up (`plain`) compare as JavaScript compares strings.
 */
function compareMembers(a: Slot, b: Slot): number {
  const x = a.member;
  const y = b.member;
  if (a.plain && b.plain) return x === y ? 0 : x < y ? -1 : 1;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const u = x.charCodeAt(i);
    const v = y.charCodeAt(i);
    if (u !== v) return codePointRank(u) - codePointRank(v);
  }
  return x.length - y.length;
}

const codePointRank = (unit: number) =>
  unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit;

/** A unit from U+D800 up: where code unit order and code point order can part. */
const highUnit = /[\ud800-\uffff]/;

interface Slot {
  member: string;
  score: number;
  /** No unit from U+D800 up in the member. */
  plain: boolean;
  /** The block that holds it (SortedMembers). */
  block: Slot[];
}

/** The block of a slot not yet placed (shared: a slot is made on every update). */
const unplaced: Slot[] = [];

const slotOf = (member: string, score: number): Slot => ({
  member,
  score,
  plain: !highUnit.test(member),
  block: unplaced,
});

/** Slots per block when blocks are made; a block splits in two past twice as many. */
const BLOCK_SLOTS = 512;

/**
 * The members in ZRANGE's order (score, then member), in sorted blocks of up to 1,024 slots: a
 * member's slot knows its block, so a change takes it out of its block by identity (no search
 * by score), finds its new block by its last slots and its place there by binary search, and
 * moves at most one block's slots, however far its rank moves.
 */
export class SortedMembers {
  readonly #blocks: Slot[][] = [];
  readonly #slots = new Map<string, Slot>();

  /** The members of (member, score) pairs, each member once, sorted at once. */
  static from(pairs: Iterable<readonly [string, number]>): SortedMembers {
    const members = new SortedMembers();
    const all: Slot[] = [];
    for (const [member, score] of pairs) {
      const slot = slotOf(member, score);
      all.push(slot);
      members.#slots.set(member, slot);
    }
    all.sort(SortedMembers.compare);
    for (let i = 0; i < all.length; i += BLOCK_SLOTS) {
      const block = all.slice(i, i + BLOCK_SLOTS);
      for (const slot of block) slot.block = block;
      members.#blocks.push(block);
    }
    return members;
  }

  static compare(a: Slot, b: Slot): number {
    return a.score === b.score ? compareMembers(a, b) : a.score < b.score ? -1 : 1;
  }

  get size(): number {
    return this.#slots.size;
  }

  /** A member's score; undefined when absent. */
  score(member: string): number | undefined {
    return this.#slots.get(member)?.score;
  }

  /** Every slot, in order (a copy). */
  get slots(): Slot[] {
    return this.#blocks.flat();
  }

  /** The slots in order ('asc') or in reverse ('desc'). */
  *ordered(order: RankOrder): Generator<Slot> {
    const blocks = this.#blocks;
    if (order === 'asc') {
      for (const block of blocks) yield* block;
      return;
    }
    for (let b = blocks.length - 1; b >= 0; b--) {
      const block = blocks[b] as Slot[];
      for (let i = block.length - 1; i >= 0; i--) yield block[i] as Slot;
    }
  }

  /** A member's new score (undefined: gone). */
  set(member: string, score: number | undefined): void {
    const before = this.#slots.get(member);
    if (before?.score === score) return;
    if (before !== undefined) this.#remove(before);
    if (score === undefined) {
      this.#slots.delete(member);
      return;
    }
    const slot = slotOf(member, score);
    this.#insert(slot);
    this.#slots.set(member, slot);
  }

  #remove(slot: Slot): void {
    const { block } = slot;
    block.splice(block.indexOf(slot), 1);
    if (block.length === 0) this.#blocks.splice(this.#blocks.indexOf(block), 1);
  }

  #insert(slot: Slot): void {
    const blocks = this.#blocks;
    if (blocks.length === 0) {
      slot.block = [slot];
      blocks.push(slot.block);
      return;
    }
    // The first block whose last slot is not before this one; the last block if none is.
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = blocks[mid] as Slot[];
      if (SortedMembers.compare(block[block.length - 1] as Slot, slot) < 0) lo = mid + 1;
      else hi = mid;
    }
    const block = blocks[lo] as Slot[];
    let at = 0;
    let end = block.length;
    while (at < end) {
      const mid = (at + end) >>> 1;
      if (SortedMembers.compare(block[mid] as Slot, slot) < 0) at = mid + 1;
      else end = mid;
    }
    block.splice(at, 0, slot);
    slot.block = block;
    if (block.length > 2 * BLOCK_SLOTS) {
      const upper = block.splice(BLOCK_SLOTS);
      for (const moved of upper) moved.block = upper;
      blocks.splice(lo + 1, 0, upper);
    }
  }

  /** The 0-based index in ZRANGE order; -1 when absent. */
  index(member: string): number {
    const slot = this.#slots.get(member);
    if (slot === undefined) return -1;
    let before = 0;
    for (const block of this.#blocks) {
      if (block === slot.block) return before + block.indexOf(slot);
      before += block.length;
    }
    return -1;
  }
}

type XinfoReply = (string | number | unknown[] | null)[];

/** The counters of XINFO STREAM; a missing stream is an empty one. */
interface StreamCounters {
  lastId: string;
  maxDeletedId: string;
  entriesAdded: number;
}

function countersOf(reply: XinfoReply | undefined): StreamCounters {
  const fields = new Map<string, unknown>();
  for (let i = 0; reply && i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  return {
    lastId: String(fields.get('last-generated-id') ?? '0-0'),
    maxDeletedId: String(fields.get('max-deleted-entry-id') ?? '0-0'),
    entriesAdded: Number(fields.get('entries-added') ?? 0),
  };
}

/** EXEC's replies; XINFO of a missing stream counts as an empty stream. */
function execReplies(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new Error('the transaction was discarded');
  return replies.map(([error, value], i) => {
    if (error) {
      if (i === 0 && /no such key/i.test(error.message)) return undefined;
      throw error;
    }
    return value;
  });
}

/** One leaderboard as the entries make it: the guard's model of it, and its members in order. */
class LeaderboardFold {
  model: StateModel = emptyStateModel();
  members = new SortedMembers();

  readonly name: string;
  readonly mutations: MutationRegistry;

  constructor(name: string, mutations: MutationRegistry) {
    this.name = name;
    this.mutations = mutations;
  }

  reset(): void {
    this.model = emptyStateModel();
    this.members = new SortedMembers();
  }

  /** The leaderboard as ZRANGE WITHSCORES returned it. */
  load(flat: readonly string[]): void {
    const zset = new Map<string, ModelScore>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const score = scoreOf(flat[i + 1] as string);
      zset.set(flat[i] as string, {
        score,
        magnitude: Math.abs(score),
        exact: Number.isSafeInteger(score),
      });
    }
    if (zset.size > 0) this.model.state.set(this.name, { type: 'zset', members: zset });
    this.resort();
  }

  /** Applies one entry: refused entries and entries of other states change nothing. */
  apply(entry: StreamEntry, sync = true): void {
    if (entry.refused !== undefined || !entry.keys.includes(this.name)) return;
    applyRecorded(this.model, entryMutation(entry), this.mutations);
    if (!sync) return;
    const touched = this.targetsOf(entry);
    if (touched === undefined) {
      this.resort();
      return;
    }
    const zset = this.zset();
    for (const member of touched) this.members.set(member, zset?.members.get(member)?.score);
  }

  /** Per op, the [key index, target arg index] pairs its definition names (`targets`). */
  readonly #targetArgs = new Map<string, [number, number][]>();

  /** The members of this leaderboard an entry names; undefined when its mutation says none. */
  private targetsOf(entry: StreamEntry): string[] | undefined {
    let pairs = this.#targetArgs.get(entry.op);
    if (pairs === undefined) {
      const definition = this.mutations.get(entry.op)?.definition;
      const targets = definition?.targets as Record<string, string> | undefined;
      pairs = [];
      for (const [i, keyName] of (definition?.keys ?? []).entries()) {
        const target = targets?.[keyName as string];
        const at = target === undefined ? -1 : (definition?.args.indexOf(target) ?? -1);
        if (at >= 0) pairs.push([i, at]);
      }
      this.#targetArgs.set(entry.op, pairs);
    }
    const touched: string[] = [];
    for (const [key, arg] of pairs)
      if (entry.keys[key] === this.name) touched.push(entry.args[arg] as string);
    return touched.length === 0 ? undefined : touched;
  }

  private zset(): Extract<ModelValue, { type: 'zset' }> | undefined {
    const value = this.model.state.get(this.name);
    if (value !== undefined && value.type !== 'zset')
      throw new TypeError(`state "${this.name}" is a ${value.type}, not a leaderboard`);
    return value;
  }

  /** Every member of the model into the sorted view. */
  resort(): void {
    const members = [...(this.zset()?.members ?? [])];
    this.members = SortedMembers.from(members.map(([member, { score }]) => [member, score]));
  }

  rank(member: string, order: RankOrder): RankedMember | undefined {
    const index = this.members.index(member);
    if (index < 0) return undefined;
    const rank = order === 'asc' ? index : this.members.size - 1 - index;
    return { member, score: this.members.score(member) as number, rank };
  }

  top(n: number, order: RankOrder): RankedMember[] {
    const count = Math.min(Math.max(0, Math.floor(n)), this.members.size);
    const out: RankedMember[] = [];
    for (const slot of this.members.ordered(order)) {
      if (out.length === count) break;
      out.push({ member: slot.member, score: slot.score, rank: out.length });
    }
    return out;
  }
}

/** Why the view's next entry is gone, from the counters read with the page; undefined if not. */
function gapOf(
  counters: StreamCounters,
  view: { lastId: string; counted: number },
  read: number,
  drained: boolean,
): string | undefined {
  const { lastId, counted } = view;
  if (compareStreamIds(counters.lastId, lastId) < 0)
    return `the stream's last entry ${counters.lastId} is before the view's ${lastId}: Redis rolled back`;
  if (compareStreamIds(counters.maxDeletedId, lastId) > 0)
    return `entries after ${lastId} were deleted (up to ${counters.maxDeletedId}): trimmed past the view`;
  const added = counters.entriesAdded;
  if (drained ? added !== counted + read : added < counted + read)
    return `the stream counts ${added} entries added, the view ${counted + read}: entries after ${lastId} were trimmed, or Redis rolled back`;
  return undefined;
}

/**
 * Fills `fold` from the state (the leaderboard and the stream's counters in one transaction) or
 * from the last N entries; the stream's counters at that moment.
 */
async function warmFold(
  redis: RedisClient,
  fold: LeaderboardFold,
  keys: { streamKey: string; boardKey: string },
  warmFrom: 'state' | { entries: number },
): Promise<StreamCounters> {
  const { streamKey, boardKey } = keys;
  fold.reset();
  const tx = redis.multi().xinfo('STREAM', streamKey);
  const replies = execReplies(
    await (warmFrom === 'state'
      ? tx.type(boardKey).zrange(boardKey, '0', '-1', 'WITHSCORES')
      : tx.xrevrange(streamKey, '+', '-', 'COUNT', warmFrom.entries)
    ).exec(),
  );
  if (warmFrom === 'state') {
    const type = replies[1] as string;
    if (type !== 'none' && type !== 'zset')
      throw new TypeError(`${boardKey} holds a ${type}, not a leaderboard`);
    fold.load(replies[2] as string[]);
  } else {
    const tail = replies[1] as [string, string[]][];
    for (let i = tail.length - 1; i >= 0; i--)
      fold.apply(decodeStreamEntry((tail[i] as [string, string[]])[1]), false);
    fold.resort();
  }
  // The stream's last id, not the last entry's: the entry last added may have been deleted.
  return countersOf(replies[0] as XinfoReply | undefined);
}

/** Resolves once `lastId()` reaches the stream's last id as of the call. */
async function reachLastId(
  redis: RedisClient,
  streamKey: string,
  lastId: () => string,
  timeoutMs: number,
): Promise<void> {
  const reply = (await redis.xinfo('STREAM', streamKey).catch(() => undefined)) as
    | XinfoReply
    | undefined;
  const target = countersOf(reply).lastId;
  const deadline = Date.now() + timeoutMs;
  while (compareStreamIds(lastId(), target) < 0) {
    if (Date.now() > deadline)
      throw new Error(`the view is at ${lastId()}, not yet at ${target}, after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function createStreamView(redis: RedisClient, options: StreamViewOptions): StreamView {
  const prefix = options.keyPrefix ?? defaultKeyPrefix;
  const { shard, name } = options;
  const streamKey = shardKeys(shard, prefix).stream;
  const boardKey = stateKey(shard, name, prefix);
  const pageSize = options.pageSize ?? 1_000;
  const blockMs = options.blockMs ?? 1_000;
  const fold = new LeaderboardFold(name, options.mutations ?? defaultMutations);
  /** The last entry applied, and `entries-added` of the stream when it was added. */
  const at = { lastId: '0-0', counted: 0 };
  const counts = { warmups: 0, tailed: 0 };
  let running = false;
  let loop: Promise<void> | undefined;
  let blocking: RedisClient | undefined;

  async function warm(): Promise<void> {
    const counters = await warmFold(redis, fold, { streamKey, boardKey }, options.warm ?? 'state');
    at.lastId = counters.lastId;
    at.counted = counters.entriesAdded;
    counts.warmups++;
    counts.tailed = 0;
  }

  /** Reads and applies one page; whether the stream was drained. */
  async function page(): Promise<boolean> {
    const replies = execReplies(
      await redis
        .multi()
        .xinfo('STREAM', streamKey)
        .xrange(streamKey, `(${at.lastId}`, '+', 'COUNT', pageSize)
        .exec(),
    );
    const entries = replies[1] as [string, string[]][];
    const drained = entries.length < pageSize;
    const gone = gapOf(
      countersOf(replies[0] as XinfoReply | undefined),
      at,
      entries.length,
      drained,
    );
    if (gone !== undefined) {
      options.onRewarm?.(gone);
      await warm();
      return false;
    }
    for (const [id, fields] of entries) {
      const entry = decodeStreamEntry(fields);
      fold.apply(entry);
      at.lastId = id;
      at.counted++;
      counts.tailed++;
      options.onEntry?.(entry, id);
    }
    return drained;
  }

  /** Waits for an entry after the last one applied, or blockMs. */
  async function nextEntry(): Promise<void> {
    if (blocking === undefined) {
      blocking = (redis as { duplicate(): RedisClient }).duplicate();
      blocking.on('error', () => {}); // a failed read says it; reconnects are ioredis's
    }
    await blocking.xread('COUNT', 1, 'BLOCK', blockMs, 'STREAMS', streamKey, at.lastId);
  }

  async function tail(): Promise<void> {
    while (running) {
      try {
        if ((await page()) && running) await nextEntry();
      } catch (error) {
        if (!running) return;
        options.onError?.(
          redisCallError(error, { call: 'tailing the delta stream', subject: `shard "${shard}"` }),
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  return {
    async start() {
      if (running) return;
      try {
        await warm();
      } catch (error) {
        if (error instanceof TypeError) throw error;
        throw redisCallError(error, { call: 'warming the view', subject: `shard "${shard}"` });
      }
      running = true;
      loop = tail();
    },
    async stop() {
      running = false;
      blocking?.disconnect();
      await loop;
      // A read that was under way when stop() came may have opened it again.
      blocking?.disconnect();
      blocking = undefined;
    },
    caughtUp: (timeoutMs = 10_000) => reachLastId(redis, streamKey, () => at.lastId, timeoutMs),
    score: (member) => fold.members.score(member),
    rank: (member, order = 'desc') => fold.rank(member, order),
    top: (n, order = 'desc') => fold.top(n, order),
    get size() {
      return fold.members.size;
    },
    get lastId() {
      return at.lastId;
    },
    get warmups() {
      return counts.warmups;
    },
    get tailed() {
      return counts.tailed;
    },
  };
}
