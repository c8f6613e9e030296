/**
 * Position-bound reads of the state (docs/reading.md): a leaderboard member's score and rank,
 * the top N, the members around one, a hash field, set membership. Each read takes an optional
 * bound, a position or its token (core/events/position.ts). Without one it is the bare Redis
 * command. With one, the partitions' ledgers are read beside the state, and the shard's
 * checkpoints with the state in one atomic step (MULTI, or one script for `around`); the read
 * answers only when Redis has reached the bound (core/reading/bound.ts), and throws
 * NotUpToBoundError otherwise. `waitFor` waits for a bound up to a deadline: one poll loop per
 * reader serves every wait, so the load on Redis does not grow with the number of waiters.
 */
import { NotUpToBoundError, PositionError } from '../errors.ts';
import { type Position, parsePositionToken } from '../events/position.ts';
import { topicPartition } from '../events/topic-partition.ts';
import { defaultKeyPrefix, shardKeys, stateKey } from '../layout/keys.ts';
import type { RedisClient } from '../redis/client.ts';
import { readLedgers } from '../redis/ledger.ts';
import { redisCallError } from '../redis/script-error.ts';
import { behindBound } from './bound.ts';
import { PositionWaits } from './waits.ts';

/** A read's bound: a position, or the token positionToken() made of it. */
export type Bound = Position | string;

/** Highest score first ("desc", a leaderboard's usual order) or lowest first. */
export type RankOrder = 'desc' | 'asc';

export interface ReadOptions {
  /** Answer only once Redis has reached this position; else throw NotUpToBoundError. */
  at?: Bound;
}

export interface RankOptions extends ReadOptions {
  /** Default "desc". */
  order?: RankOrder;
}

/** A leaderboard member with its score and its 0-based rank in the order asked for. */
export interface RankedMember {
  member: string;
  score: number;
  rank: number;
}

export interface WaitOptions {
  /** How long to wait before throwing NotUpToBoundError. */
  timeoutMs: number;
  /** Also wait until this shard holds what the ledgers say was written to it. */
  shard?: string;
}

export interface ReaderOptions {
  /** The deployment's key prefix (SEQGUARD_KEY_PREFIX); default "sg". */
  keyPrefix?: string;
  /**
   * The topics the deployment consumes (SEQGUARD_TOPICS): a bound naming any other topic is
   * refused with PositionError, since no ledger would ever reach it. Default: any topic.
   */
  topics?: readonly string[];
  /**
   * waitFor's polling: the first poll after `minMs`, then the interval doubles up to `maxMs`
   * while nothing new is waited for. Default 2 to 20 ms.
   */
  pollMs?: { min: number; max: number };
}

export interface Reader {
  /** The member's score; undefined when it is not a member. */
  score(
    shard: string,
    name: string,
    member: string,
    options?: ReadOptions,
  ): Promise<number | undefined>;
  /**
   * The member's rank and score; undefined when it is not a member. Rank 0 is the first in the
   * order; members of equal score are ordered by member, byte-wise: ascending for "asc", and
   * descending for "desc" (Redis's ZRANK and ZREVRANK).
   */
  rank(
    shard: string,
    name: string,
    member: string,
    options?: RankOptions,
  ): Promise<RankedMember | undefined>;
  /** The first `n` members in the order. */
  top(shard: string, name: string, n: number, options?: RankOptions): Promise<RankedMember[]>;
  /**
   * The member and up to `n` members on each side of it in the order (2n + 1 at most); empty
   * when it is not a member.
   */
  around(
    shard: string,
    name: string,
    member: string,
    n: number,
    options?: RankOptions,
  ): Promise<RankedMember[]>;
  /** A hash field's value; undefined when absent. */
  hashField(
    shard: string,
    name: string,
    field: string,
    options?: ReadOptions,
  ): Promise<string | undefined>;
  /** Whether the set holds the member. */
  isMember(shard: string, name: string, member: string, options?: ReadOptions): Promise<boolean>;
  /**
   * Resolves once Redis has reached the bound (and, with `shard`, once that shard holds what
   * was written to it); throws NotUpToBoundError, naming the partitions behind, at the deadline.
   */
  waitFor(bound: Bound, options: WaitOptions): Promise<void>;
  /** Stops the poll loop; waits still running fail with NotUpToBoundError. */
  close(): void;
}

/** Redis's text of a score: a double, or inf / -inf. */
export function scoreOf(text: string): number {
  if (text === 'inf' || text === '+inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

function ranked(flat: readonly string[], firstRank: number): RankedMember[] {
  const members: RankedMember[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    members.push({
      member: flat[i] as string,
      score: scoreOf(flat[i + 1] as string),
      rank: firstRank + i / 2,
    });
  }
  return members;
}

function checkedCount(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`${what} must be an integer >= 0, got ${n}`);
  return n;
}

/** What every read of one reader shares. */
interface ReadContext {
  redis: RedisClient;
  prefix: string;
  topics: ReadonlySet<string> | undefined;
}

function positionOfBound(context: ReadContext, bound: Bound): Position {
  const position = typeof bound === 'string' ? parsePositionToken(bound) : bound;
  if (!Array.isArray(position)) throw new PositionError('a bound is a position or its token');
  const { topics } = context;
  if (topics !== undefined) {
    const foreign = position.filter((p) => !topics.has(p.topic)).map((p) => p.topic);
    if (foreign.length > 0)
      throw new PositionError(
        `the bound names ${[...new Set(foreign)].join(', ')}, which this deployment does not consume (${[...topics].join(', ')})`,
      );
  }
  return position;
}

/** The shard's checkpoints of the position's partitions, as HMGET returned them. */
function checkpointsOf(position: Position, held: readonly (string | null)[]): Map<string, bigint> {
  const checkpoints = new Map<string, bigint>();
  position.forEach((p, i) => {
    const value = held[i];
    if (value !== null && value !== undefined) checkpoints.set(topicPartition(p), BigInt(value));
  });
  return checkpoints;
}

function unwrap(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new Error('the transaction was discarded');
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

function throwIfBehind(
  position: Position,
  ledgers: Awaited<ReturnType<typeof readLedgers>>,
  shard: string,
  held: readonly (string | null)[],
): void {
  const behind = behindBound(position, ledgers, shard, checkpointsOf(position, held));
  if (behind.length > 0) throw new NotUpToBoundError(behind);
}

type Command = readonly [string, ...(string | number)[]];

/**
 * Runs `commands` on the shard: as they are without a bound; with one, after HMGET of the
 * checkpoints in one transaction, beside the ledgers, and answers only when Redis has reached
 * the bound.
 */
async function shardRead<T>(
  context: ReadContext,
  shard: string,
  bound: Bound | undefined,
  commands: readonly Command[],
  parse: (replies: unknown[]) => T,
): Promise<T> {
  const { redis, prefix } = context;
  const position = bound === undefined ? undefined : positionOfBound(context, bound);
  try {
    if (position === undefined || position.length === 0) {
      return parse(await Promise.all(commands.map(([name, ...args]) => redis.call(name, ...args))));
    }
    const tps = position.map(topicPartition);
    const tx = redis.multi([
      ['hmget', shardKeys(shard, prefix).offsets, ...tps],
      ...commands.map(([name, ...args]) => [name.toLowerCase(), ...args.map(String)]),
    ]);
    const [ledgers, replies] = await Promise.all([readLedgers(redis, tps, prefix), tx.exec()]);
    const [held, ...rest] = unwrap(replies);
    throwIfBehind(position, ledgers, shard, held as (string | null)[]);
    return parse(rest);
  } catch (error) {
    if (error instanceof NotUpToBoundError || error instanceof PositionError) throw error;
    throw redisCallError(error, {
      call: commands.map(([name]) => name).join(' + '),
      subject: `shard "${shard}"`,
    });
  }
}

/** The members around one, and the checkpoints, in one script (lua/readAround-2.lua). */
async function readAround(
  context: ReadContext,
  at: { shard: string; name: string; member: string; n: number },
  options: RankOptions,
): Promise<RankedMember[]> {
  const { redis, prefix } = context;
  const count = checkedCount(at.n, 'n');
  const position = options.at === undefined ? undefined : positionOfBound(context, options.at);
  const tps = position?.map(topicPartition) ?? [];
  try {
    const [[held, rank, flat], ledgers] = await Promise.all([
      redis.readAround(
        stateKey(at.shard, at.name, prefix),
        shardKeys(at.shard, prefix).offsets,
        at.member,
        String(count),
        options.order ?? 'desc',
        ...tps,
      ),
      position === undefined ? undefined : readLedgers(redis, tps, prefix),
    ]);
    if (position !== undefined && ledgers !== undefined)
      throwIfBehind(position, ledgers, at.shard, held);
    if (rank === null) return [];
    return ranked(flat, Math.max(0, rank - count));
  } catch (error) {
    if (error instanceof NotUpToBoundError) throw error;
    throw redisCallError(error, { call: 'readAround', subject: `shard "${at.shard}"` });
  }
}

export function createReader(redis: RedisClient, options: ReaderOptions = {}): Reader {
  const prefix = options.keyPrefix ?? defaultKeyPrefix;
  const context: ReadContext = {
    redis,
    prefix,
    topics: options.topics === undefined ? undefined : new Set(options.topics),
  };
  const waits = new PositionWaits(redis, prefix, options.pollMs ?? { min: 2, max: 20 });
  const key = (shard: string, name: string) => stateKey(shard, name, prefix);
  const desc = (opts: RankOptions) => (opts.order ?? 'desc') === 'desc';
  return {
    score: (shard, name, member, opts = {}) =>
      shardRead(context, shard, opts.at, [['ZSCORE', key(shard, name), member]], ([score]) =>
        score === null ? undefined : scoreOf(score as string),
      ),
    rank: (shard, name, member, opts = {}) =>
      shardRead(
        context,
        shard,
        opts.at,
        [
          [desc(opts) ? 'ZREVRANK' : 'ZRANK', key(shard, name), member],
          ['ZSCORE', key(shard, name), member],
        ],
        ([rank, score]) =>
          rank === null || score === null
            ? undefined
            : { member, rank: rank as number, score: scoreOf(score as string) },
      ),
    top: async (shard, name, n, opts = {}) => {
      const count = checkedCount(n, 'n');
      if (count === 0) return [];
      const range: Command = desc(opts)
        ? ['ZRANGE', key(shard, name), 0, count - 1, 'REV', 'WITHSCORES']
        : ['ZRANGE', key(shard, name), 0, count - 1, 'WITHSCORES'];
      return shardRead(context, shard, opts.at, [range], ([flat]) => ranked(flat as string[], 0));
    },
    around: (shard, name, member, n, opts = {}) =>
      readAround(context, { shard, name, member, n }, opts),
    hashField: (shard, name, field, opts = {}) =>
      shardRead(context, shard, opts.at, [['HGET', key(shard, name), field]], ([value]) =>
        value === null ? undefined : (value as string),
      ),
    isMember: (shard, name, member, opts = {}) =>
      shardRead(
        context,
        shard,
        opts.at,
        [['SISMEMBER', key(shard, name), member]],
        ([found]) => found === 1,
      ),
    async waitFor(bound, waitOptions) {
      const position = positionOfBound(context, bound);
      checkedCount(waitOptions.timeoutMs, 'timeoutMs');
      if (position.length === 0) return;
      await waits.wait(position, waitOptions.shard, waitOptions.timeoutMs);
    },
    close: () => waits.close(),
  };
}
