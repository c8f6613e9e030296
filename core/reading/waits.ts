/**
 * The waits of one reader (Reader.waitFor): one poll loop serves them all. Each poll reads the
 * ledger of every partition waited for (and the checkpoints of every shard waited on) once,
 * whatever the number of waits, and ends each wait whose bound is reached, or whose deadline has
 * passed. Polls are `min` ms apart at the least; the gap doubles up to `max` while no wait ends,
 * and starts again at `min` when a wait is added.
 */
import { NotUpToBoundError, SeqguardError } from '../errors.ts';
import type { Position } from '../events/position.ts';
import { topicPartition } from '../events/topic-partition.ts';
import { shardKeys } from '../layout/keys.ts';
import type { RedisClient } from '../redis/client.ts';
import { readLedgers } from '../redis/ledger.ts';
import { redisCallError } from '../redis/script-error.ts';
import { behindBound } from './bound.ts';

/** What one wait asks for, and how it ends. */
interface Waiter {
  position: Position;
  shard: string | undefined;
  deadline: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class PositionWaits {
  readonly #waiters = new Set<Waiter>();
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #lastPoll = Number.NEGATIVE_INFINITY;
  /** The time between the last poll and the next one. */
  #gap: number;
  private readonly redis: RedisClient;
  private readonly keyPrefix: string;
  private readonly poll: { min: number; max: number };

  constructor(redis: RedisClient, keyPrefix: string, poll: { min: number; max: number }) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
    this.poll = poll;
    this.#gap = poll.min;
  }

  /** Resolves once Redis has reached `position` (and `shard` holds its marks), or rejects at the deadline. */
  wait(position: Position, shard: string | undefined, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiters.add({ position, shard, deadline: Date.now() + timeoutMs, resolve, reject });
      // A new wait is polled for soon, whatever the gap had grown to.
      this.#gap = this.poll.min;
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      this.#schedule();
    });
  }

  /** Stops the loop; the waits still running fail. */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of this.#waiters) {
      this.#waiters.delete(waiter);
      waiter.reject(new SeqguardError('the reader was closed while waiting for a position'));
    }
  }

  /**
   * The next poll: `gap` after the last one, or at the nearest deadline, but never sooner than
   * `min` after the last one, however many waits come and go.
   */
  #schedule(): void {
    if (this.#timer !== undefined || this.#polling || this.#waiters.size === 0) return;
    const nearest = Math.min(...[...this.#waiters].map((w) => w.deadline));
    const due = Math.max(
      this.#lastPoll + this.poll.min,
      Math.min(this.#lastPoll + this.#gap, nearest),
    );
    this.#timer = setTimeout(() => void this.#tick(), Math.max(0, due - Date.now()));
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    this.#polling = true;
    this.#lastPoll = Date.now();
    let ended = false;
    try {
      ended = await this.#pollOnce();
    } catch (error) {
      const failure = redisCallError(error, { call: 'reading the partition ledgers' });
      for (const waiter of this.#waiters) {
        if (Date.now() >= waiter.deadline) {
          this.#waiters.delete(waiter);
          waiter.reject(failure);
        }
      }
    } finally {
      this.#polling = false;
    }
    if (ended) this.#gap = this.poll.min;
    this.#schedule();
    this.#gap = Math.min(this.#gap * 2, this.poll.max);
  }

  /** Polls once for every wait; whether any wait ended. */
  async #pollOnce(): Promise<boolean> {
    const current = [...this.#waiters];
    const tps = [...new Set(current.flatMap((w) => w.position.map(topicPartition)))];
    const shards = [...new Set(current.flatMap((w) => (w.shard === undefined ? [] : [w.shard])))];
    const [ledgers, held] = await Promise.all([
      readLedgers(this.redis, tps, this.keyPrefix),
      Promise.all(
        shards.map((s) => this.redis.hmget(shardKeys(s, this.keyPrefix).offsets, ...tps)),
      ),
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
      this.#waiters.delete(waiter);
      ended = true;
    }
    return ended;
  }
}
