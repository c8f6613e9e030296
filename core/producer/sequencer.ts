/**
 * The producer side of the sequence guard: every event gets the next `seq` of its scope.
 *
 * A seq that is drawn but never published leaves a gap that the sink records as open; it loses
 * nothing, but the drift checks will report it. So an event whose send failed is sent again
 * with the seq it already has, never stamped anew. Two events of one scope stamped and sent
 * concurrently may reach Kafka out of seq order; the guard still applies each once (the later
 * one as `appliedLate`), but send a scope's events one after another to keep its gap ledger empty.
 */
import { SequenceOverflowError, SequenceUnavailableError } from '../errors.ts';
import { INT64_MAX } from '../events/int64.ts';

import { defaultKeyPrefix, producerSeqKey } from '../layout/keys.ts';

/** Hands out the seqs of each scope: first, first + 1, first + 2, … Seqs are int64. */
export interface SequenceSource {
  next(scope: string): Promise<bigint>;
}

/** The seq every scope starts at, as the sink's SEQGUARD_FIRST_SEQ defaults to. */
export const defaultFirstSeq = 1n;

export interface InMemorySequenceOptions {
  /** The seq each scope starts at. */
  firstSeq?: bigint;
  /** Seqs already used, by scope: such a scope continues at its value + 1. */
  lastIssued?: Iterable<readonly [string, bigint]> | Readonly<Record<string, bigint>>;
}

/**
 * Counters in this process only: for tests, the demo and benchmarks, or a producer that keeps
 * its counters elsewhere and seeds them at start.
 */
export function inMemorySequenceSource(options: InMemorySequenceOptions = {}): SequenceSource {
  const firstSeq = options.firstSeq ?? defaultFirstSeq;
  const lastIssued = new Map<string, bigint>(entriesOf(options.lastIssued ?? []));
  return {
    async next(scope: string): Promise<bigint> {
      const seq = (lastIssued.get(scope) ?? firstSeq - 1n) + 1n;
      checkInt64(seq, scope);
      lastIssued.set(scope, seq);
      return seq;
    },
  };
}

function entriesOf(
  seeds: Iterable<readonly [string, bigint]> | Readonly<Record<string, bigint>>,
): Iterable<readonly [string, bigint]> {
  return Symbol.iterator in seeds
    ? (seeds as Iterable<readonly [string, bigint]>)
    : Object.entries(seeds);
}

/** The one Redis command the durable source needs (ioredis `Redis` and `Cluster` both have it). */
export interface CounterStore {
  incr(key: string): Promise<number>;
}

export interface RedisSequenceOptions {
  /** The seq each scope starts at. */
  firstSeq?: bigint;
  /** First part of every counter key, to share one Redis between pipelines. */
  keyPrefix?: string;
}

/**
 * Durable counters: one Redis key per scope, advanced with INCR, which is atomic, so any number
 * of producer processes may share them. A counter holds how many seqs its scope has used; the seq
 * is firstSeq - 1 + that count, computed as a bigint.
 */
export function redisSequenceSource(
  redis: CounterStore,
  options: RedisSequenceOptions = {},
): SequenceSource {
  const firstSeq = options.firstSeq ?? defaultFirstSeq;
  const prefix = options.keyPrefix ?? defaultKeyPrefix;
  return {
    async next(scope: string): Promise<bigint> {
      const key = producerSeqKey(scope, prefix);
      let count: number;
      try {
        count = await redis.incr(key);
      } catch (error) {
        throw new SequenceUnavailableError(`cannot draw the next seq of scope ${scope}`, {
          cause: error,
        });
      }
      // A count beyond 2^53 would have lost digits on its way into a JS number.
      if (!Number.isSafeInteger(count)) {
        throw new SequenceOverflowError(`the counter ${key} is beyond 2^53: ${count}`);
      }
      const seq = firstSeq - 1n + BigInt(count);
      checkInt64(seq, scope);
      return seq;
    },
  };
}

function checkInt64(seq: bigint, scope: string): void {
  if (seq > INT64_MAX) {
    throw new SequenceOverflowError(`scope ${scope} has used every seq up to ${INT64_MAX}`);
  }
}

/** An event with its seq, ready for publishEvents(): the scope becomes the record key. */
export interface StampedEvent<Value> {
  scope: string;
  seq: bigint;
  value: Value;
}

/** An envelope event before its seq is known (docs/event-format.md). */
export interface EnvelopeDraft {
  scope: string;
  /** A registered mutation's name (core/mutations). */
  type: string;
  data: Record<string, unknown>;
  shard?: string;
  id?: string;
  ts?: number;
}

export type StampedEnvelope = EnvelopeDraft & { seq: bigint };

/** Fills in the next seq of the draft's scope: `{scope, seq, shard, type, data, …}`. */
export async function stampEnvelope(
  source: SequenceSource,
  draft: EnvelopeDraft,
): Promise<StampedEvent<StampedEnvelope>> {
  const seq = await source.next(draft.scope);
  return { scope: draft.scope, seq, value: { ...draft, seq } };
}

/** An event of the seed article's format before its seq is known. */
export interface SeedEventDraft {
  player_id: string;
  delta: number;
}

export interface SeedEvent extends SeedEventDraft {
  sequence_id: bigint;
}

/**
 * Fills in `sequence_id` for the seed format `{sequence_id, player_id, delta}`. That format has
 * no scope field: the sink's default mapping scopes by the record key, so the scope given here
 * (the player, unless said otherwise) becomes the key.
 */
export async function stampSeedEvent(
  source: SequenceSource,
  draft: SeedEventDraft,
  scope: string = draft.player_id,
): Promise<StampedEvent<SeedEvent>> {
  const seq = await source.next(scope);
  return { scope, seq, value: { sequence_id: seq, ...draft } };
}
