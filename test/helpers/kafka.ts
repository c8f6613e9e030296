/**
 * Topics and records on the test broker, through the project's one connection module
 * (core/kafka/connection.ts), in the suite's security shape (global-setup.ts): the
 * broker's SASL_SSL listener with MSK IAM tokens (signed with the credentials
 * test/helpers/worker-env.ts puts in each worker's environment), or plaintext under
 * SEQGUARD_PLAINTEXT=1.
 */
import { randomUUID } from 'node:crypto';
import type { Message } from '@platformatic/kafka';
import { afterAll, beforeAll, inject, vi } from 'vitest';
import { topicPartition } from '../../core/events/topic-partition.ts';
import {
  createAdmin,
  createConsumer,
  createKafkaProducer,
  type KafkaConnection,
} from '../../core/kafka/connection.ts';
import {
  type KafkaBroker,
  type SecureKafkaListener,
  secureKafkaEnv,
  startKafkaBroker,
} from '../../local/emulators/kafka/broker.ts';
import {
  type Pipeline,
  type PipelineOptions,
  startPipeline,
} from '../../local/emulators/pipeline.ts';

/** How the suite's clients reach its broker: TLS and MSK IAM when the suite is secure. */
export function suiteKafkaSecurity(): Pick<KafkaConnection, 'mskIam' | 'tlsCaPem'> {
  const listener = inject('kafkaMskIam');
  return listener
    ? { mskIam: { region: listener.credentials.region }, tlsCaPem: listener.caPem }
    : {};
}

/** A connection to the suite's broker. */
export function suiteKafka(clientId = 'seqguard-test'): KafkaConnection {
  return { clientId, bootstrapBrokers: [inject('kafkaBootstrap')], ...suiteKafkaSecurity() };
}

/** A plaintext connection to `bootstrap` (a broker a test file starts itself). */
export function plaintextKafka(bootstrap: string, clientId = 'seqguard-test'): KafkaConnection {
  return { clientId, bootstrapBrokers: [bootstrap] };
}

/**
 * The environment a function or the operator CLI needs to reach the suite's broker as it reaches
 * MSK: SEQGUARD_KAFKA_BOOTSTRAP and, when secure, MSK IAM, the CA file and the credentials.
 */
export function suiteKafkaEnv(): Record<string, string> {
  const listener = inject('kafkaMskIam');
  return listener
    ? secureKafkaEnv(listener)
    : { SEQGUARD_KAFKA_BOOTSTRAP: inject('kafkaBootstrap') };
}

/** Each partition's end offset once `records` are written to a new topic, by `<topic>-<partition>`. */
export function endOffsets(records: readonly TestRecord[], topic: string): Map<string, bigint> {
  const ends = new Map<string, bigint>();
  for (const r of records) {
    const id = topicPartition({ topic, partition: r.partition });
    ends.set(id, (ends.get(id) ?? 0n) + 1n);
  }
  return ends;
}

export function uniqueTopic(label = 'topic'): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

export async function createTopic(
  topic: string,
  partitions: number,
  connection = suiteKafka('seqguard-test-admin'),
): Promise<void> {
  const admin = createAdmin(connection);
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

export interface TestRecord {
  partition: number;
  key?: string;
  value: string | Buffer;
  headers?: Record<string, string>;
  timestamp?: bigint;
}

/** Produces records in order, each to the partition it names; returns their offsets. */
export async function produce(
  topic: string,
  records: TestRecord[],
  connection = suiteKafka('seqguard-test-producer'),
): Promise<bigint[]> {
  const producer = createKafkaProducer(connection, {
    idempotent: true,
    acks: -1,
  });
  try {
    const result = await producer.send({
      messages: records.map((r) => ({
        topic,
        partition: r.partition,
        ...(r.key === undefined ? {} : { key: Buffer.from(r.key) }),
        value: Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value),
        headers: new Map(
          Object.entries(r.headers ?? {}).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]),
        ),
        ...(r.timestamp === undefined ? {} : { timestamp: r.timestamp }),
      })),
    });
    return (result.offsets ?? []).map((o) => o.offset);
  } finally {
    await producer.close();
  }
}

/** Every record of a topic, read from the start by a throw-away group, until `count` arrived. */
export async function readAll(
  topic: string,
  count: number,
  { timeoutMs = 20_000, connection = suiteKafka('seqguard-test-reader') } = {},
): Promise<Message<Buffer, Buffer, Buffer, Buffer>[]> {
  const consumer = createConsumer(connection, { groupId: `reader-${randomUUID()}` });
  const records: Message<Buffer, Buffer, Buffer, Buffer>[] = [];
  try {
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'earliest',
      autocommit: false,
      maxWaitTime: 200,
    });
    const deadline = Date.now() + timeoutMs;
    for await (const record of stream) {
      records.push(record as Message<Buffer, Buffer, Buffer, Buffer>);
      if (records.length >= count || Date.now() > deadline) break;
    }
    await stream.close();
    return records;
  } finally {
    await consumer.close(true);
  }
}

/**
 * The local pipeline (mapping emulator and the function's deployed bundle under AWS's runtime)
 * on the suite's broker: the mapping's consumer and the function reach it as they reach MSK.
 */
export function startSuitePipeline(options: {
  function: PipelineOptions['function'];
  mapping: Omit<PipelineOptions['mapping'], 'security'>;
}): Pipeline {
  return startPipeline({
    bootstrap: inject('kafkaBootstrap'),
    function: {
      ...(options.function.module ? {} : { deployed: inject('deployedApplyEvents') }),
      ...options.function,
      env: { ...suiteKafkaEnv(), ...options.function.env },
    },
    mapping: { ...options.mapping, security: suiteKafkaSecurity() },
  });
}

/** A broker's MSK IAM listener, and its plaintext one (for what must skip authentication). */
export interface SecureKafka {
  listener: SecureKafkaListener;
  plaintextBootstrap: string;
}

/**
 * For the files about the secure shape itself (test/integration/kafka-secure.test.ts,
 * secure-pipeline.test.ts): the suite's broker when the suite is secure; under
 * SEQGUARD_PLAINTEXT=1 a broker of the file's own with `security: 'msk-iam'`, stopped after it.
 */
export function useSecureKafka(): () => SecureKafka {
  let secure: SecureKafka;
  let own: KafkaBroker | undefined;
  beforeAll(async () => {
    const listener = inject('kafkaMskIam');
    if (listener) {
      secure = { listener, plaintextBootstrap: inject('kafkaPlaintextBootstrap') };
      return;
    }
    // A broker named by KAFKA_BROKERS cannot be secure: start one.
    vi.stubEnv('KAFKA_BROKERS', undefined);
    own = await startKafkaBroker({ security: 'msk-iam' });
    secure = {
      listener: own.mskIam as SecureKafkaListener,
      plaintextBootstrap: own.bootstrap,
    };
  }, 180_000);
  afterAll(async () => {
    await own?.stop();
  });
  return () => secure;
}
