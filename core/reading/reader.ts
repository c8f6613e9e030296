/**
 * Position-bound reads of the state (docs/reading.md): a leaderboard member's score and rank,
 * the top N, the members around one, a hash field, set membership. Each read takes an optional
 * bound, a position or its token (core/events/position.ts). Without one it is the bare Redis
 * command. With one, the runs of the partitions' ledgers are read beside the state, and the
 * shard's checkpoints with the state in one script (lua/readState-2.lua); the read
 * answers only when Redis has reached the bound (core/reading/bound.ts), and throws
 * NotUpToBoundError otherwise. `waitFor` waits for a bound up to a deadline: one poll loop per
 * reader serves every wait, so the load on Redis does not grow with the number of waiters.
 */
import { NotUpToBoundError, PositionError } from '../errors.ts';
import { type Position, parsePositionToken } from '../events/position.ts';
import { topicPartition } from '../events/topic-partition.ts';
import { defaultKeyPrefix, shardKeys, stateKey } from '../layout/keys.ts';
import type { RedisClient } from '../redis/client.ts';
import { readLedgerRuns } from '../redis/ledger.ts';
import { redisCallError } from '../redis/script-error.ts';
import type { LedgerEntry } from '../sink/ports.ts';
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
/** A reply's text, or undefined for Redis's nil (null, or false from a script under RESP3). */
const text = (value: unknown): string | undefined =>
  value === null || value === undefined || value === false ? undefined : String(value);

function checkpointsOf(position: Position, held: readonly unknown[]): Map<string, bigint> {
  const checkpoints = new Map<string, bigint>();
  position.forEach((p, i) => {
    const value = text(held[i]);
    if (value !== undefined) checkpoints.set(topicPartition(p), BigInt(value));
  });
  return checkpoints;
}

function throwIfBehind(
  position: Position,
  ledgers: ReadonlyMap<string, LedgerEntry>,
  shard: string,
  held: readonly unknown[],
): void {
  const behind = behindBound(position, ledgers, shard, checkpointsOf(position, held));
  if (behind.length > 0) throw new NotUpToBoundError(behind);
}

/** A read lua/readState-2.lua makes (the script's ARGV[1]). */
type StateRead = 'score' | 'rank' | 'top' | 'around' | 'field' | 'member';

/** One read: what the script is asked, and how each way of asking makes the answer. */
interface ReadSpec<T> {
  shard: string;
  name: string;
  read: StateRead;
  order: RankOrder;
  /** The member, the field, or N for top. */
  subject: string;
  /** Members on each side, for around. */
  n?: number;
  /** The bare commands, for a read without a bound; absent: the script serves both. */
  bare?: () => Promise<T>;
  /** The answer from the script's reply. */
  fromScript: (answer: unknown) => T;
}

/**
 * Runs one read: the bare commands without a bound; with one, the state and the shard's
 * checkpoints in one script (lua/readState-2.lua), sent beside the ledgers' runs, and the
 * answer only when Redis has reached the bound.
 */
async function stateRead<T>(
  context: ReadContext,
  spec: ReadSpec<T>,
  bound: Bound | undefined,
): Promise<T> {
  const { redis, prefix } = context;
  const position = bound === undefined ? undefined : positionOfBound(context, bound);
  const bounded = position !== undefined && position.length > 0;
  try {
    if (!bounded && spec.bare) return await spec.bare();
    const tps = bounded ? position.map(topicPartition) : [];
    const [ledgers, [held, answer]] = await Promise.all([
      bounded ? readLedgerRuns(redis, tps, prefix, spec.shard) : undefined,
      redis.readState(
        stateKey(spec.shard, spec.name, prefix),
        shardKeys(spec.shard, prefix).offsets,
        spec.read,
        spec.order,
        spec.subject,
        spec.n === undefined ? '' : String(spec.n),
        ...tps,
      ),
    ]);
    if (bounded && ledgers) throwIfBehind(position, ledgers, spec.shard, held);
    return spec.fromScript(answer);
  } catch (error) {
    if (error instanceof NotUpToBoundError || error instanceof PositionError) throw error;
    throw redisCallError(error, { call: `read ${spec.read}`, subject: `shard "${spec.shard}"` });
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
  const orderOf = (opts: RankOptions): RankOrder => opts.order ?? 'desc';
  const rankedOf = (member: string, rank: unknown, score: unknown) => {
    const scoreText = text(score);
    return text(rank) === undefined || scoreText === undefined
      ? undefined
      : { member, rank: Number(rank), score: scoreOf(scoreText) };
  };
  return {
    score: (shard, name, member, opts = {}) => {
      const parse = (score: unknown) => {
        const value = text(score);
        return value === undefined ? undefined : scoreOf(value);
      };
      const bare = async () => parse(await redis.zscore(key(shard, name), member));
      const spec = { shard, name, read: 'score', order: 'desc', subject: member } as const;
      return stateRead(context, { ...spec, bare, fromScript: parse }, opts.at);
    },
    rank: (shard, name, member, opts = {}) => {
      const order = orderOf(opts);
      const bare = async () => {
        const k = key(shard, name);
        const [rank, score] = await Promise.all([
          order === 'desc' ? redis.zrevrank(k, member) : redis.zrank(k, member),
          redis.zscore(k, member),
        ]);
        return rankedOf(member, rank, score);
      };
      const fromScript = (answer: unknown) => {
        const [rank, score] = answer as [unknown, unknown];
        return rankedOf(member, rank, score);
      };
      const spec = { shard, name, read: 'rank', order, subject: member } as const;
      return stateRead(context, { ...spec, bare, fromScript }, opts.at);
    },
    top: async (shard, name, n, opts = {}) => {
      const count = checkedCount(n, 'n');
      if (count === 0) return [];
      const order = orderOf(opts);
      const bare = async () => {
        const k = key(shard, name);
        const flat =
          order === 'desc'
            ? await redis.zrange(k, '0', String(count - 1), 'REV', 'WITHSCORES')
            : await redis.zrange(k, '0', String(count - 1), 'WITHSCORES');
        return ranked(flat, 0);
      };
      const fromScript = (answer: unknown) => ranked(answer as string[], 0);
      const spec = { shard, name, read: 'top', order, subject: String(count) } as const;
      return stateRead(context, { ...spec, bare, fromScript }, opts.at);
    },
    around: (shard, name, member, n, opts = {}) => {
      const count = checkedCount(n, 'n');
      const fromScript = (answer: unknown) => {
        const [rank, flat] = answer as [unknown, string[]];
        return text(rank) === undefined ? [] : ranked(flat, Math.max(0, Number(rank) - count));
      };
      const spec = {
        shard,
        name,
        read: 'around',
        order: orderOf(opts),
        subject: member,
        n: count,
      } as const;
      return stateRead(context, { ...spec, fromScript }, opts.at);
    },
    hashField: (shard, name, field, opts = {}) => {
      const bare = async () => text(await redis.hget(key(shard, name), field));
      const spec = { shard, name, read: 'field', order: 'desc', subject: field } as const;
      return stateRead(context, { ...spec, bare, fromScript: text }, opts.at);
    },
    isMember: (shard, name, member, opts = {}) => {
      const found = (reply: unknown) => Number(reply) === 1 || reply === true;
      const bare = async () => found(await redis.sismember(key(shard, name), member));
      const spec = { shard, name, read: 'member', order: 'desc', subject: member } as const;
      return stateRead(context, { ...spec, bare, fromScript: found }, opts.at);
    },
    async waitFor(bound, waitOptions) {
      const position = positionOfBound(context, bound);
      checkedCount(waitOptions.timeoutMs, 'timeoutMs');
      if (position.length === 0) return;
      await waits.wait(position, waitOptions.shard, waitOptions.timeoutMs);
    },
    close: () => waits.close(),
  };
}
