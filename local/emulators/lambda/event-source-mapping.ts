/**
 * An emulator of Lambda's Kafka event source mapping in provisioned mode
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html), so that the
 * real handler runs against a real broker on a laptop or in CI:
 * - a consumer group polls the topics; batches close at `batchSize` records or when the
 *   batching window has passed since their first record;
 * - every batch becomes one MSK event for one invocation; offsets are committed only after the
 *   function returned, and the next batch is sent while that commit is under way;
 * - partial batch responses (ReportBatchItemFailures) are honoured: each partition is committed
 *   up to its first failed record and consumed again from there;
 * - a function error (throw, crash, timeout) retries the batch, split in two first when
 *   `bisectBatchOnFunctionError` is on;
 * - retries are bounded (`maximumRetryAttempts`, -1 for no bound, 10 when a destination is set
 *   as AWS does), records older than `maximumRecordAgeMs` are not sent to the function, and both
 *   go to the on-failure destination topic with the reason in their headers.
 * Rewinding closes the consumer stream and consumes again from the committed offsets, which is
 * also what a restarted poller does.
 *
 * Unlike Lambda, which retries a function whose cold start fails, the emulator halts on it:
 * locally such a failure (an import error, bad configuration) would fail every invocation the
 * same way, so it is surfaced at once (`halted`) instead of being retried forever.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, Message, MessagesStream, Producer } from '@platformatic/kafka';
import type { MSKEvent } from 'aws-lambda';
import {
  createConsumer,
  createKafkaProducer,
  type EventSourceIdentity,
  type KafkaConnection,
  toMskEvent,
  topicPartition,
} from '../../../core/index.ts';

import { FunctionInitError, LocalRuntimeError } from '../errors.ts';
import type { InvokeOutcome } from './handler-process.ts';

type Record = Message<Buffer, Buffer, Buffer, Buffer>;

export interface EventSourceMappingOptions {
  bootstrapBrokers: string[];
  /**
   * How the mapping's consumer and its on-failure producer reach the brokers, as the trigger
   * reaches MSK: IAM auth (SASL_SSL) and the CA to trust. Plaintext when absent.
   */
  security?: Pick<KafkaConnection, 'mskIam' | 'tlsCaPem'>;
  topics: string[];
  /** The consumer group (in AWS, the mapping's UUID or its configured consumer group id). */
  groupId: string;
  /** Records per invocation at most (AWS default 100). */
  batchSize?: number;
  /**
   * How long a batch may wait for more records (AWS MaximumBatchingWindowInSeconds; 500 ms).
   * 0 is the low-latency mode (Lambda developer guide, "Low latency processing for Kafka event
   * sources", https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-low-latency.html): the
   * records at hand go to the function at once, as many as arrived while the previous
   * invocation ran, up to `batchSize`, without waiting to fill the batch.
   */
  batchWindowMs?: number;
  /** Retries of a failed record or batch; -1 retries until the record expires. */
  maximumRetryAttempts?: number;
  /** Older records go to the destination instead of the function; -1 for no limit. */
  maximumRecordAgeMs?: number;
  bisectBatchOnFunctionError?: boolean;
  /** Topic for records given up on (the `kafka://` on-failure destination). */
  onFailureTopic?: string;
  startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** Pause before a batch is consumed again after a failure. */
  retryBackoffMs?: number;
  identity?: Partial<EventSourceIdentity>;
  /** Runs the function with one MSK event. */
  invoke(event: MSKEvent): Promise<InvokeOutcome>;
  onActivity?(activity: EsmActivity): void;
}

export type EsmActivity =
  | {
      kind: 'invoked';
      records: number;
      outcome: 'success' | 'partialFailure' | 'functionError';
      durationMs: number;
      detail?: string;
    }
  | { kind: 'committed'; partition: string; offset: bigint }
  | { kind: 'retrying'; partition: string; offset: bigint; attempt: number }
  | { kind: 'discarded'; partition: string; offsets: bigint[]; reason: DiscardReason }
  | { kind: 'pollerError'; error: Error }
  | { kind: 'halted'; error: FunctionInitError };

export type DiscardReason = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

export interface EsmStats {
  invocations: number;
  recordsDelivered: number;
  functionErrors: number;
  partialFailures: number;
  recordsDiscarded: number;
  rewinds: number;
  /** Fetch responses the consumer received: an idle mapping makes about two a second. */
  fetches: number;
}

/** How long the broker may hold a fetch that finds no record (a long poll), in ms. */
const idleFetchWaitMs = 500;

/** The offset to commit of each partition (the next to read), with its last record. */
type Commits = Map<string, { record: Record; offset: bigint }>;

/** The first offset of each partition that must be consumed again. */
type Failures = Map<string, bigint>;

/** What an invocation (or the invocations of a bisected batch) failed on. */
interface Failed {
  failures: Failures;
  /** The records that failed: what goes to the destination when the retries run out. */
  records: Set<Record>;
}

function failedFrom(failures: Failures, records: readonly Record[]): Failed {
  const failed = records.filter((r) => {
    const from = failures.get(topicPartition(r));
    return from !== undefined && r.offset >= from;
  });
  return { failures, records: new Set(failed) };
}

function lowest(failures: Failures, partition: string, offset: bigint): void {
  const current = failures.get(partition);
  if (current === undefined || offset < current) failures.set(partition, offset);
}

function everyPartitionFrom(records: readonly Record[]): Failures {
  const failures: Failures = new Map();
  for (const record of records) lowest(failures, topicPartition(record), record.offset);
  return failures;
}

/**
 * Reads a partial batch response. Like Lambda, treats an unreadable response or an identifier
 * that names no record of the batch as a failure of the whole batch.
 */
function failuresOf(response: unknown, records: readonly Record[]): Failures | 'invalid' {
  if (response === null || response === undefined) return new Map();
  const items = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (items === undefined || items === null) return new Map();
  if (!Array.isArray(items)) return 'invalid';
  const known = new Set(records.map((r) => `${topicPartition(r)}@${r.offset}`));
  const failures: Failures = new Map();
  for (const item of items) {
    const id = (item as { itemIdentifier?: { partition?: unknown; offset?: unknown } })
      ?.itemIdentifier;
    if (typeof id?.partition !== 'string' || typeof id.offset !== 'number') return 'invalid';
    if (!known.has(`${id.partition}@${id.offset}`)) return 'invalid';
    lowest(failures, id.partition, BigInt(id.offset));
  }
  return failures;
}

export class EventSourceMapping {
  readonly #options: Required<
    Omit<EventSourceMappingOptions, 'onFailureTopic' | 'onActivity' | 'identity' | 'security'>
  > &
    Pick<EventSourceMappingOptions, 'onFailureTopic' | 'onActivity' | 'security'>;
  readonly #identity: EventSourceIdentity;
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  #destination: Producer<Buffer, Buffer, Buffer, Buffer> | undefined;
  readonly #committed = new Map<string, bigint>();
  readonly #attempts = new Map<string, number>();
  /**
   * The next batch does not wait for the previous one's commit (a round trip to the group
   * coordinator, as long as a small invocation): commits go out one at a time, and what batches
   * finish meanwhile is merged into the next one. Only a rewind and a restart of the poller wait
   * for them.
   */
  #commits: Promise<void> = Promise.resolve();
  #commitRunning = false;
  readonly #toCommit: Commits = new Map();
  #commitError: Error | undefined;
  #stopping = false;
  #wake: () => void = () => {};
  #loop: Promise<void> | undefined;
  #markReady: () => void = () => {};
  /** Settles once the consumer has joined its group and polls: records sent after it are seen. */
  readonly ready: Promise<void> = new Promise((resolve) => {
    this.#markReady = resolve;
  });
  #markHalted: (error: FunctionInitError) => void = () => {};
  /** Settles, with the function's error, if the mapping stopped because a cold start failed. */
  readonly halted: Promise<FunctionInitError> = new Promise((resolve) => {
    this.#markHalted = resolve;
  });
  readonly stats: EsmStats = {
    invocations: 0,
    recordsDelivered: 0,
    functionErrors: 0,
    partialFailures: 0,
    recordsDiscarded: 0,
    rewinds: 0,
    fetches: 0,
  };

  constructor(options: EventSourceMappingOptions) {
    const maximumRetryAttempts = options.maximumRetryAttempts ?? -1;
    this.#options = {
      // An event source mapping's own defaults, for an emulator created without them: Lambda API
      // reference, CreateEventSourceMapping, BatchSize (100 for Amazon MSK) and
      // MaximumBatchingWindowInSeconds (500 ms for Kafka). The deployed trigger sets its own
      // (core/config/trigger.ts); the demo and the soak say which they use.
      batchSize: 100,
      batchWindowMs: 500,
      maximumRecordAgeMs: -1,
      bisectBatchOnFunctionError: false,
      startingPosition: 'TRIM_HORIZON',
      retryBackoffMs: 200,
      ...options,
      // With a destination, AWS bounds "infinite" retries at 10.
      maximumRetryAttempts:
        maximumRetryAttempts < 0 && options.onFailureTopic ? 10 : maximumRetryAttempts,
    };
    if (options.onFailureTopic && options.topics.includes(options.onFailureTopic)) {
      throw new LocalRuntimeError(
        'the on-failure destination must not be one of the source topics',
      );
    }
    this.#identity = {
      eventSourceArn:
        'arn:aws:kafka:local:000000000000:cluster/seqguard-local/00000000-0000-0000-0000-000000000000-1',
      bootstrapServers: options.bootstrapBrokers.join(','),
      ...options.identity,
    };
    this.#consumer = createConsumer(this.#connection(`seqguard-esm-${options.groupId}`), {
      groupId: options.groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
      rebalanceTimeout: 10_000,
    });
  }

  /** A connection to the brokers for one of the mapping's clients. */
  #connection(clientId: string): KafkaConnection {
    return {
      clientId,
      bootstrapBrokers: this.#options.bootstrapBrokers,
      ...this.#options.security,
    };
  }

  /** Offsets committed so far, by `<topic>-<partition>` (the next offset to read). */
  get committed(): ReadonlyMap<string, bigint> {
    return this.#committed;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#markReady();
    this.#wake();
    await this.#loop;
    await this.#consumer.close(true).catch(() => {});
    await this.#destination?.close().catch(() => {});
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
      try {
        stream = await this.#consumer.consume({
          topics: this.#options.topics,
          mode: 'committed',
          fallbackMode: this.#options.startingPosition === 'LATEST' ? 'latest' : 'earliest',
          autocommit: false,
          // A long poll: the broker answers a fetch as soon as it holds minBytes (one byte, so
          // one record) and otherwise after maxWaitTime (Kafka's fetch.min.bytes and
          // fetch.max.wait.ms, https://kafka.apache.org/documentation/#consumerconfigs). Records
          // therefore arrive as soon as they are written whatever the wait; the wait only bounds
          // an idle poll. A wait of 0 would make an idle mapping fetch in a busy loop.
          minBytes: 1,
          maxWaitTime: idleFetchWaitMs,
        });
        stream.on('fetch', () => {
          this.stats.fetches += 1;
        });
        this.#markReady();
        await this.#pump(stream);
      } catch (error) {
        if (this.#stopping) break;
        if (error instanceof FunctionInitError) {
          this.#stopping = true;
          this.#markReady();
          this.#options.onActivity?.({ kind: 'halted', error });
          this.#markHalted(error);
          break;
        }
        this.#options.onActivity?.({ kind: 'pollerError', error: error as Error });
        await sleep(this.#options.retryBackoffMs);
      } finally {
        await stream?.close().catch(() => {});
        // Consumed again from the committed offsets: every commit made so far is in first.
        await this.#commits;
        this.#commitError = undefined;
      }
    }
  }

  /** Feeds batches to the function until a partition must be consumed again, or stop(). */
  async #pump(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
    const queue: Record[] = [];
    let firstArrival = 0;
    let streamError: Error | undefined;
    const waitFor = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    stream.on('data', (record: Record) => {
      const first = queue.length === 0;
      if (first) firstArrival = Date.now();
      queue.push(record);
      if (queue.length >= this.#options.batchSize * 2) stream.pause();
      // The first record starts the batching window (with a window of 0 the batch goes at once);
      // a full batch goes without waiting for the window's end. The records of one fetch arrive
      // in one tick, before the woken loop runs, so they travel together.
      if (first || queue.length >= this.#options.batchSize) this.#wake();
    });
    stream.on('error', (error: Error) => {
      streamError = error;
      this.#wake();
    });

    while (!this.#stopping) {
      if (streamError) throw streamError;
      if (this.#commitError) await this.#commitsSettled();
      if (queue.length === 0) {
        await waitFor(idleFetchWaitMs * 2);
        continue;
      }
      const windowLeft = firstArrival + this.#options.batchWindowMs - Date.now();
      if (queue.length < this.#options.batchSize && windowLeft > 0) {
        await waitFor(windowLeft);
        continue;
      }
      const batch = queue.splice(0, this.#options.batchSize);
      firstArrival = Date.now();
      if (await this.#process(batch)) {
        this.stats.rewinds += 1;
        return;
      }
      if (queue.length < this.#options.batchSize * 2) stream.resume();
    }
  }

  /** One batch through the function; true when some partition must be consumed again. */
  async #process(batch: Record[]): Promise<boolean> {
    const expired = this.#expired(batch);
    if (expired.length > 0) await this.#discard(expired, 'RecordAgeExceeded');
    const records = batch.filter((r) => !expired.includes(r));
    const { failures, records: failed } =
      records.length > 0 ? await this.#invoke(records) : failedFrom(new Map(), []);

    let rewind = false;
    const commits: Commits = new Map();
    for (const record of batch) {
      const id = topicPartition(record);
      const failedFrom = failures.get(id);
      if (failedFrom !== undefined && record.offset >= failedFrom) continue;
      commits.set(id, { record, offset: record.offset + 1n });
    }
    for (const [id, offset] of failures) {
      const key = `${id}@${offset}`;
      const attempt = (this.#attempts.get(key) ?? 0) + 1;
      this.#attempts.set(key, attempt);
      if (this.#options.maximumRetryAttempts >= 0 && attempt > this.#options.maximumRetryAttempts) {
        this.#attempts.delete(key);
        await this.#discard(
          records.filter((r) => topicPartition(r) === id && failed.has(r)),
          'RetryAttemptsExhausted',
        );
        const last = records.filter((r) => topicPartition(r) === id).at(-1) as Record;
        commits.set(id, { record: last, offset: last.offset + 1n });
      } else {
        this.#options.onActivity?.({ kind: 'retrying', partition: id, offset, attempt });
        rewind = true;
      }
    }
    this.#commitInOrder(commits);
    if (rewind) {
      await this.#commitsSettled();
      await sleep(this.#options.retryBackoffMs);
    }
    return rewind;
  }

  /** Commits after the commits before it, without waiting for it. */
  #commitInOrder(commits: Commits): void {
    for (const [id, commit] of commits) {
      const queued = this.#toCommit.get(id);
      if (!queued || commit.offset > queued.offset) this.#toCommit.set(id, commit);
    }
    if (!this.#commitRunning) this.#commits = this.#sendCommits();
  }

  async #sendCommits(): Promise<void> {
    this.#commitRunning = true;
    try {
      while (this.#toCommit.size > 0) {
        const commits: Commits = new Map(this.#toCommit);
        this.#toCommit.clear();
        await this.#commit(commits).catch((error: Error) => {
          this.#commitError ??= error;
          this.#wake();
        });
      }
    } finally {
      this.#commitRunning = false;
    }
  }

  /** Waits for the commits in flight; throws the first that failed (the poller restarts). */
  async #commitsSettled(): Promise<void> {
    await this.#commits;
    const error = this.#commitError;
    this.#commitError = undefined;
    if (error) throw error;
  }

  #expired(batch: readonly Record[]): Record[] {
    const maxAge = this.#options.maximumRecordAgeMs;
    if (maxAge < 0) return [];
    const oldest = BigInt(Date.now() - maxAge);
    return batch.filter((r) => r.timestamp < oldest);
  }

  /** Invokes the function, splitting the batch on function errors when asked to. */
  async #invoke(records: Record[]): Promise<Failed> {
    const started = performance.now();
    const outcome = await this.#options.invoke(toMskEvent(records, this.#identity));
    if (outcome.kind === 'initError')
      throw new FunctionInitError(outcome.errorType, outcome.errorMessage, outcome.output);
    const durationMs = performance.now() - started;
    this.stats.invocations += 1;
    this.stats.recordsDelivered += records.length;
    if (outcome.kind === 'response') {
      const failures = failuresOf(outcome.response, records);
      if (failures !== 'invalid') {
        if (failures.size > 0) this.stats.partialFailures += 1;
        this.#options.onActivity?.({
          kind: 'invoked',
          records: records.length,
          outcome: failures.size > 0 ? 'partialFailure' : 'success',
          durationMs,
        });
        return failedFrom(failures, records);
      }
    }
    this.stats.functionErrors += 1;
    this.#options.onActivity?.({
      kind: 'invoked',
      records: records.length,
      outcome: 'functionError',
      durationMs,
      detail:
        outcome.kind === 'functionError'
          ? `${outcome.errorType}: ${outcome.errorMessage}`
          : 'invalid batch response',
    });
    if (this.#options.bisectBatchOnFunctionError && records.length > 1) {
      const middle = Math.ceil(records.length / 2);
      const first = await this.#invoke(records.slice(0, middle));
      const second = await this.#invoke(records.slice(middle));
      for (const [id, offset] of second.failures) lowest(first.failures, id, offset);
      return { failures: first.failures, records: new Set([...first.records, ...second.records]) };
    }
    return failedFrom(everyPartitionFrom(records), records);
  }

  async #commit(commits: Commits): Promise<void> {
    const offsets = [...commits]
      .filter(([id, { offset }]) => offset > (this.#committed.get(id) ?? -1n))
      .map(([, { record, offset }]) => ({
        topic: record.topic,
        partition: record.partition,
        offset,
        leaderEpoch: record.leaderEpoch,
      }));
    if (offsets.length === 0) return;
    await this.#consumer.commit({ offsets });
    for (const o of offsets) {
      const id = topicPartition(o);
      this.#committed.set(id, o.offset);
      this.#options.onActivity?.({ kind: 'committed', partition: id, offset: o.offset });
    }
  }

  /** Records given up on: to the destination topic when there is one (else they are dropped). */
  async #discard(records: readonly Record[], reason: DiscardReason): Promise<void> {
    if (records.length === 0) return;
    this.stats.recordsDiscarded += records.length;
    const topic = this.#options.onFailureTopic;
    if (topic) {
      this.#destination ??= createKafkaProducer<Buffer, Buffer, Buffer, Buffer>(
        this.#connection(`seqguard-esm-${this.#options.groupId}-destination`),
        { idempotent: true, acks: -1 },
      );
      await this.#destination.send({
        messages: records.map((r) => ({
          topic,
          ...(r.key?.length ? { key: r.key } : {}),
          ...(r.value ? { value: r.value } : {}),
          headers: new Map<Buffer, Buffer>([
            ...r.headerEntries,
            [Buffer.from('seqguard-failure-reason'), Buffer.from(reason)],
            [Buffer.from('seqguard-source'), Buffer.from(`${topicPartition(r)}@${r.offset}`)],
          ]),
        })),
      });
    }
    const byPartition = new Map<string, bigint[]>();
    for (const r of records)
      byPartition.set(topicPartition(r), [...(byPartition.get(topicPartition(r)) ?? []), r.offset]);
    for (const [partition, offsets] of byPartition) {
      this.#options.onActivity?.({ kind: 'discarded', partition, offsets, reason });
    }
  }
}
