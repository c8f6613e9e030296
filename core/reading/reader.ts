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
import { NotUpToBoundError, PositionError, SeqguardError } from '../errors.ts';
import { type Position, parsePositionToken } from '../events/position.ts';
import { topicPartition } from '../events/topic-partition.ts';
import { defaultKeyPrefix, shardKeys, stateKey } from '../layout/keys.ts';
import type { RedisClient } from '../redis/client.ts';
import { readLedgers } from '../redis/ledger.ts';
import { redisCallError } from '../redis/script-error.ts';
import { behindBound } from './bound.ts';

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
function scoreOf(text: string): number {
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

/** What one wait asks for, and how it ends. */
interface Waiter {
  position: Position;
  shard: string | undefined;
  deadline: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export function createReader(redis: RedisClient, options: ReaderOptions = {}): Reader {
  const prefix = options.keyPrefix ?? defaultKeyPrefix;
  const topics = options.topics === undefined ? undefined : new Set(options.topics);
  const poll = options.pollMs ?? { min: 2, max: 20 };

  function positionOfBound(bound: Bound): Position {
    const position = typeof bound === 'string' ? parsePositionToken(bound) : bound;
    if (!Array.isArray(position)) throw new PositionError('a bound is a position or its token');
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
  function checkpointsOf(
    position: Position,
    held: readonly (string | null)[],
  ): Map<string, bigint> {
    const checkpoints = new Map<string, bigint>();
    position.forEach((p, i) => {
      const value = held[i];
      if (value !== null && value !== undefined) checkpoints.set(topicPartition(p), BigInt(value));
    });
    return checkpoints;
  }

  /**
   * Runs `commands` (each a command and its arguments) on the shard: as they are without a
   * bound; with one, after HMGET of the checkpoints in one transaction, beside the ledgers, and
   * answers only when Redis has reached the bound.
   */
  async function shardRead<T>(
    shard: string,
    bound: Bound | undefined,
    commands: readonly (readonly [string, ...(string | number)[]])[],
    parse: (replies: unknown[]) => T,
  ): Promise<T> {
    const position = bound === undefined ? undefined : positionOfBound(bound);
    try {
      if (position === undefined || position.length === 0) {
        return parse(
          await Promise.all(commands.map(([name, ...args]) => redis.call(name, ...args))),
        );
      }
      const tps = position.map(topicPartition);
      const tx = redis.multi([
        ['hmget', shardKeys(shard, prefix).offsets, ...tps],
        ...commands.map(([name, ...args]) => [name.toLowerCase(), ...args.map(String)]),
      ]);
      const [ledgers, replies] = await Promise.all([readLedgers(redis, tps, prefix), tx.exec()]);
      const [held, ...rest] = unwrap(replies);
      const behind = behindBound(
        position,
        ledgers,
        shard,
        checkpointsOf(position, held as (string | null)[]),
      );
      if (behind.length > 0) throw new NotUpToBoundError(behind);
      return parse(rest);
    } catch (error) {
      if (error instanceof NotUpToBoundError || error instanceof PositionError) throw error;
      throw redisCallError(error, {
        call: commands.map(([name]) => name).join(' + '),
        subject: `shard "${shard}"`,
      });
    }
  }

  function unwrap(replies: [Error | null, unknown][] | null): unknown[] {
    if (replies === null) throw new Error('the transaction was discarded');
    return replies.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // waitFor: one poll loop for all waits

  const waiters = new Set<Waiter>();
  let timer: NodeJS.Timeout | undefined;
  let polling = false;
  let lastPoll = Number.NEGATIVE_INFINITY;
  /** The time between the last poll and the next one. */
  let gap = poll.min;

  /** Polls once for every wait; whether any wait ended. */
  async function pollOnce(): Promise<boolean> {
    const current = [...waiters];
    const tps = [...new Set(current.flatMap((w) => w.position.map(topicPartition)))];
    const shards = [...new Set(current.flatMap((w) => (w.shard === undefined ? [] : [w.shard])))];
    const [ledgers, held] = await Promise.all([
      readLedgers(redis, tps, prefix),
      Promise.all(shards.map((s) => redis.hmget(shardKeys(s, prefix).offsets, ...tps))),
    ]);
    const now = Date.now();
    let ended = false;
    for (const waiter of current) {
      const index = waiter.shard === undefined ? -1 : shards.indexOf(waiter.shard);
      const checkpoints = new Map<string, bigint>();
      (held[index] ?? []).forEach((value, i) => {
        if (value !== null) checkpoints.set(tps[i] as string, BigInt(value));
      });
      const behind = behindBound(waiter.position, ledgers, waiter.shard, checkpoints);
      if (behind.length === 0) waiter.resolve();
      else if (now >= waiter.deadline) waiter.reject(new NotUpToBoundError(behind));
      else continue;
      waiters.delete(waiter);
      ended = true;
    }
    return ended;
  }

  /**
   * The next poll: `gap` after the last one, or at the nearest deadline, but never sooner than
   * `poll.min` after the last one, however many waits come and go.
   */
  function schedule(): void {
    if (timer !== undefined || polling || waiters.size === 0) return;
    const nearest = Math.min(...[...waiters].map((w) => w.deadline));
    const due = Math.max(lastPoll + poll.min, Math.min(lastPoll + gap, nearest));
    timer = setTimeout(tick, Math.max(0, due - Date.now()));
  }

  async function tick(): Promise<void> {
    timer = undefined;
    polling = true;
    lastPoll = Date.now();
    let ended = false;
    try {
      ended = await pollOnce();
    } catch (error) {
      const failure = redisCallError(error, { call: 'reading the partition ledgers' });
      for (const waiter of waiters) {
        if (Date.now() >= waiter.deadline) {
          waiters.delete(waiter);
          waiter.reject(failure);
        }
      }
    } finally {
      polling = false;
    }
    if (ended) gap = poll.min;
    schedule();
    gap = Math.min(gap * 2, poll.max);
  }

  async function waitFor(bound: Bound, waitOptions: WaitOptions): Promise<void> {
    const position = positionOfBound(bound);
    checkedCount(waitOptions.timeoutMs, 'timeoutMs');
    if (position.length === 0) return;
    await new Promise<void>((resolve, reject) => {
      waiters.add({
        position,
        shard: waitOptions.shard,
        deadline: Date.now() + waitOptions.timeoutMs,
        resolve,
        reject,
      });
      // A new wait is polled for soon, whatever the gap had grown to.
      gap = poll.min;
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
      schedule();
    });
  }

  return {
    score: (shard, name, member, opts = {}) =>
      shardRead(shard, opts.at, [['ZSCORE', stateKey(shard, name, prefix), member]], ([score]) =>
        score === null ? undefined : scoreOf(score as string),
      ),

    rank: (shard, name, member, opts = {}) => {
      const key = stateKey(shard, name, prefix);
      const desc = (opts.order ?? 'desc') === 'desc';
      return shardRead(
        shard,
        opts.at,
        [
          [desc ? 'ZREVRANK' : 'ZRANK', key, member],
          ['ZSCORE', key, member],
        ],
        ([rank, score]) =>
          rank === null || score === null
            ? undefined
            : { member, rank: rank as number, score: scoreOf(score as string) },
      );
    },

    top: (shard, name, n, opts = {}) => {
      const key = stateKey(shard, name, prefix);
      const count = checkedCount(n, 'n');
      if (count === 0) return Promise.resolve([]);
      const desc = (opts.order ?? 'desc') === 'desc';
      return shardRead(
        shard,
        opts.at,
        [
          desc
            ? ['ZRANGE', key, 0, count - 1, 'REV', 'WITHSCORES']
            : ['ZRANGE', key, 0, count - 1, 'WITHSCORES'],
        ],
        ([flat]) => ranked(flat as string[], 0),
      );
    },

    around: (shard, name, member, n, opts = {}) => {
      const keys = shardKeys(shard, prefix);
      const count = String(checkedCount(n, 'n'));
      const order = opts.order ?? 'desc';
      const position = opts.at === undefined ? undefined : positionOfBound(opts.at);
      const tps = position?.map(topicPartition) ?? [];
      const script = redis.readAround(
        stateKey(shard, name, prefix),
        keys.offsets,
        member,
        count,
        order,
        ...tps,
      );
      return (async () => {
        try {
          const [[held, rank, flat], ledgers] = await Promise.all([
            script,
            position === undefined ? undefined : readLedgers(redis, tps, prefix),
          ]);
          if (position !== undefined && ledgers !== undefined) {
            const behind = behindBound(position, ledgers, shard, checkpointsOf(position, held));
            if (behind.length > 0) throw new NotUpToBoundError(behind);
          }
          if (rank === null) return [];
          return ranked(flat, Math.max(0, rank - Number(count)));
        } catch (error) {
          if (error instanceof NotUpToBoundError) throw error;
          throw redisCallError(error, { call: 'readAround', subject: `shard "${shard}"` });
        }
      })();
    },

    hashField: (shard, name, field, opts = {}) =>
      shardRead(shard, opts.at, [['HGET', stateKey(shard, name, prefix), field]], ([value]) =>
        value === null ? undefined : (value as string),
      ),

    isMember: (shard, name, member, opts = {}) =>
      shardRead(
        shard,
        opts.at,
        [['SISMEMBER', stateKey(shard, name, prefix), member]],
        ([found]) => found === 1,
      ),

    waitFor,

    close() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      for (const waiter of waiters) {
        waiters.delete(waiter);
        waiter.reject(new SeqguardError('the reader was closed while waiting for a position'));
      }
    },
  };
}
