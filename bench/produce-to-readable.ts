/**
 * Produce-to-readable in low-latency mode (docs/reading.md, "Waiting for a position"): what a
 * service that sent events waits before it can read their effect. Right after publishEvents
 * returns for a send of the latency curve's producer (bench/latency-curve.ts), the position of
 * what it wrote is made a token (positionToken(positionOf(written))), as a service hands it to
 * its client, and waited for with the events' shard (Reader.waitFor). The waits are not awaited
 * in the send loop: the producer keeps its pace, and one reader's poll loop serves them all.
 *
 * An event's produce-to-readable is the time its send's wait resolved minus the time the event
 * was due (its record's timestamp, as produce-to-visible counts from): the linger, the produce
 * request, the pipeline, the ledger's advance after the invocation, and the reader's poll. Every
 * event of a send gets its send's time: the wait is for all of them.
 */
import {
  createReader,
  positionOf,
  positionToken,
  type Reader,
  type RedisClient,
} from '../core/index.ts';
import type { PublishedEvent } from '../core/producer/index.ts';
import { percentile } from './lib.ts';

/** One send's wait: its events' due times, when the send returned, and when the wait ended. */
export interface ReadableSample {
  /** The record timestamps of the send's events (when each was due), ms since the epoch. */
  due: readonly number[];
  /** When publishEvents returned (the broker acknowledged), ms since the epoch. */
  ackedAt: number;
  /** When waitFor resolved; absent when it failed. */
  readableAt?: number;
  /** Why waitFor failed (at its deadline: the position was not reached). */
  failed?: string;
}

export interface ReadableFigures {
  /** Sends waited for, and events measured (due after the warm-up). */
  waits: number;
  events: number;
  /** Due to readable, per event, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Acknowledged to readable, per send, ms. */
  afterAckP50Ms: number;
  afterAckP99Ms: number;
  /** Waits that failed, measured or not, and the first reason. */
  failed: number;
  firstFailure?: string;
}

/** The figures of the waits whose events were due from `measuredFrom` on (ms since the epoch). */
export function readableFigures(
  samples: readonly ReadableSample[],
  measuredFrom: number,
): ReadableFigures {
  const latencies: number[] = [];
  const afterAck: number[] = [];
  let waits = 0;
  for (const { due, ackedAt, readableAt } of samples) {
    if (readableAt === undefined) continue;
    const measured = due.filter((ts) => ts >= measuredFrom);
    if (measured.length === 0) continue;
    waits++;
    afterAck.push(readableAt - ackedAt);
    for (const ts of measured) latencies.push(readableAt - ts);
  }
  const failures = samples.filter((s) => s.readableAt === undefined);
  return {
    waits,
    events: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length
      ? latencies.reduce((most, l) => Math.max(most, l), Number.NEGATIVE_INFINITY)
      : Number.NaN,
    afterAckP50Ms: percentile(afterAck, 50),
    afterAckP99Ms: percentile(afterAck, 99),
    failed: failures.length,
    ...(failures[0]?.failed === undefined ? {} : { firstFailure: failures[0].failed }),
  };
}

/** The waits of one point: a reader of the point's keys, and a wait per send. */
export class ReadableWaits {
  readonly #reader: Reader;
  readonly #shard: string;
  readonly #timeoutMs: number;
  readonly #samples: Promise<ReadableSample>[] = [];

  constructor(
    redis: RedisClient,
    at: { topic: string; keyPrefix: string; shard: string; timeoutMs: number },
  ) {
    this.#reader = createReader(redis, { keyPrefix: at.keyPrefix, topics: [at.topic] });
    this.#shard = at.shard;
    this.#timeoutMs = at.timeoutMs;
  }

  /** Waits for what a send wrote, from now on; never holds the caller up. */
  track(due: readonly number[], written: readonly PublishedEvent[]): void {
    const ackedAt = Date.now();
    const token = positionToken(positionOf(written));
    this.#samples.push(
      this.#reader.waitFor(token, { timeoutMs: this.#timeoutMs, shard: this.#shard }).then(
        () => ({ due, ackedAt, readableAt: Date.now() }),
        (error: unknown) => ({ due, ackedAt, failed: String(error) }),
      ),
    );
  }

  /** Once every wait has ended: the figures of those due from `measuredFrom` on. */
  async settle(measuredFrom: number): Promise<ReadableFigures> {
    return readableFigures(await Promise.all(this.#samples), measuredFrom);
  }

  close(): void {
    this.#reader.close();
  }
}
