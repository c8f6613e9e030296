/** Topics and records on the test broker, through the Kafka client the project uses. */
import { randomUUID } from 'node:crypto';
import { Admin, Consumer, type Message, Producer } from '@platformatic/kafka';

export function uniqueTopic(label = 'topic'): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

export async function createTopic(
  bootstrap: string,
  topic: string,
  partitions: number,
): Promise<void> {
  const admin = new Admin({ clientId: 'seqguard-test-admin', bootstrapBrokers: [bootstrap] });
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
  bootstrap: string,
  topic: string,
  records: TestRecord[],
): Promise<bigint[]> {
  const producer = new Producer({
    clientId: 'seqguard-test-producer',
    bootstrapBrokers: [bootstrap],
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
  bootstrap: string,
  topic: string,
  count: number,
  timeoutMs = 20_000,
): Promise<Message<Buffer, Buffer, Buffer, Buffer>[]> {
  const consumer = new Consumer({
    clientId: 'seqguard-test-reader',
    groupId: `reader-${randomUUID()}`,
    bootstrapBrokers: [bootstrap],
  });
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
