/**
 * The hardened Kafka producer that the local demo, the benchmarks and upstream services use to
 * write events: idempotent, acks from all in-sync replicas, bounded in-flight requests, bounded
 * retries, no transactions. On Amazon MSK it authenticates with IAM (SASL/OAUTHBEARER over TLS).
 *
 * Kafka keeps order only within a partition, so every event is keyed by its scope: the records of
 * one scope land on one partition, in the order they were sent, and the sink's sequence guard
 * sees each scope's seqs in order.
 */
import {
  compatibilityPartitioner,
  type Producer,
  type RetryDelayGetter,
  stringSerializer,
} from '@platformatic/kafka';
import { ProducerOptionsError, PublishError } from '../errors.ts';
import { createKafkaProducer, type KafkaConnection } from '../kafka/connection.ts';

/** The producer createProducer() returns: string keys (scopes), values written as exact JSON. */
export type EventProducer = Producer<string, unknown, string, string>;

export interface CreateProducerOptions extends KafkaConnection {
  /**
   * Produce requests in flight per broker connection, 1 to 5. Kafka's idempotent producer keeps
   * order for up to 5 (https://kafka.apache.org/documentation/#producerconfigs_enable.idempotence);
   * 1, the default, is what the seed article asks for. Note: @platformatic/kafka 2.x itself sets 1
   * on every idempotent producer, so 2 to 5 currently behave like 1.
   */
  maxInflights?: number;
}

/** Kafka's own ceiling for in-flight requests of an idempotent producer. */
export const maxIdempotentInflights = 5;

export const producerDefaults = {
  maxInflights: 1,
  /**
   * Attempts after the first one. Bounded so a lost cluster fails the send instead of hanging it;
   * note that @platformatic/kafka turns 0 and 1 into "retry forever" for idempotent producers.
   */
  retries: 8,
  /** Backoff of the first retry, doubled each time up to the cap: rides out a leader election. */
  retryDelayMs: 100,
  retryDelayCapMs: 2_000,
} as const;

export function createProducer(options: CreateProducerOptions): EventProducer {
  const maxInflights = checkedMaxInflights(options.maxInflights);
  return createKafkaProducer<string, unknown, string, string>(options, {
    idempotent: true,
    acks: -1,
    maxInflights,
    retries: producerDefaults.retries,
    retryDelay: exponentialRetryDelay,
    // Same partition for a key as the Java client's default partitioner, so a scope written
    // by this producer and by a Java service goes to one partition, and keeps one order.
    partitioner: compatibilityPartitioner,
    serializers: {
      key: stringSerializer,
      value: serializeJsonValue,
      headerKey: stringSerializer,
      headerValue: stringSerializer,
    },
  });
}

function checkedMaxInflights(value: number | undefined): number {
  const inflights = value ?? producerDefaults.maxInflights;
  if (!Number.isInteger(inflights) || inflights < 1 || inflights > maxIdempotentInflights) {
    throw new ProducerOptionsError(
      `maxInflights must be an integer from 1 to ${maxIdempotentInflights}, got ${value}: ` +
        `an idempotent Kafka producer keeps order only up to ${maxIdempotentInflights} in-flight requests`,
    );
  }
  return inflights;
}

const exponentialRetryDelay: RetryDelayGetter = function exponentialRetryDelay(
  _client,
  _operationId,
  attempt,
) {
  const { retryDelayMs, retryDelayCapMs } = producerDefaults;
  return Math.min(retryDelayMs * 2 ** Math.max(attempt - 1, 0), retryDelayCapMs);
};

/**
 * JSON with bigints written as exact integers (from their digits, never through a JS number),
 * as the sink's parser reads them back. Seqs are int64 and may exceed 2^53.
 */
export function toExactJson(value: unknown): string {
  return JSON.stringify(value, function keepBigIntsExact(_key, item: unknown) {
    return typeof item === 'bigint' ? rawJson(item.toString()) : item;
  });
}

/** JSON.rawJSON (Node 21+, TC39 "JSON.parse source text access"); not yet in TypeScript's lib. */
const rawJson = (JSON as JSON & { rawJSON(text: string): unknown }).rawJSON;

function serializeJsonValue(value?: unknown): Buffer | undefined {
  // An undefined value is a tombstone: a record with a null value.
  return value === undefined ? undefined : Buffer.from(toExactJson(value), 'utf8');
}

/** An event ready to publish: its scope becomes the record key. */
export interface OutgoingEvent {
  scope: string;
  value: unknown;
  /**
   * The record's timestamp (CreateTime), ms since the epoch: when the event happened, for a
   * caller that holds events back to send them together (a linger). Default: when the request is
   * built.
   */
  timestamp?: number;
}

/**
 * Where Kafka wrote an event: its position (core/events/position.ts). `positionOf()` of the
 * results is the bound a read of the events' effects takes (docs/reading.md).
 */
export interface PublishedEvent {
  topic: string;
  partition: number;
  offset: bigint;
}

/**
 * Sends events to one topic in one request per broker, each keyed by its scope, and returns
 * where Kafka wrote each of them, in the order of `events`.
 *
 * The partition of each event is chosen here, with the producer's own partitioner, so that the
 * offset of every event can be told from the base offset Kafka returns for each partition: the
 * events of one partition travel as one batch, and a batch gets consecutive offsets.
 */
export async function publishEvents(
  producer: EventProducer,
  topic: string,
  events: readonly OutgoingEvent[],
): Promise<PublishedEvent[]> {
  if (events.length === 0) return [];
  const partitions = await partitionCount(producer, topic);
  const messages = events.map((event) => ({
    topic,
    key: event.scope,
    value: event.value,
    partition: partitionOf(event.scope, partitions),
    ...(event.timestamp === undefined ? {} : { timestamp: BigInt(event.timestamp) }),
  }));
  const result = await producer.send({ messages });
  const baseOffsets = new Map<number, bigint>();
  for (const written of result.offsets ?? []) {
    if (written.topic === topic) baseOffsets.set(written.partition, written.offset);
  }
  return offsetsInSendOrder(messages, baseOffsets).map((written) => ({ topic, ...written }));
}

async function partitionCount(producer: EventProducer, topic: string): Promise<number> {
  const metadata = await producer.metadata({ topics: [topic] });
  const count = metadata.topics.get(topic)?.partitionsCount;
  if (count === undefined || count < 1) {
    throw new PublishError(`topic ${topic} has no partitions in the cluster metadata`);
  }
  return count;
}

/** The partition the producer's partitioner picks for a key, as stringSerializer encodes it. */
export function partitionOf(scope: string, partitions: number): number {
  return (
    compatibilityPartitioner({ topic: '', key: scope }, Buffer.from(scope, 'utf8')) % partitions
  );
}

function offsetsInSendOrder(
  messages: readonly { partition: number }[],
  baseOffsets: ReadonlyMap<number, bigint>,
): Omit<PublishedEvent, 'topic'>[] {
  const nextInPartition = new Map<number, bigint>();
  return messages.map(({ partition }) => {
    const base = baseOffsets.get(partition);
    if (base === undefined) {
      throw new PublishError(`Kafka reported no offset for partition ${partition}`);
    }
    const index = nextInPartition.get(partition) ?? 0n;
    nextInPartition.set(partition, index + 1n);
    return { partition, offset: base + index };
  });
}
