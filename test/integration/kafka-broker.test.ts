// The local Kafka broker (local/emulators/kafka/broker.ts) is a real broker: records written to each
// partition of a new topic come back from it, and stop() leaves no process or port behind.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type KafkaBroker, startKafkaBroker } from '../../local/emulators/kafka/broker.ts';
import { randomClusterId } from '../../local/emulators/kafka/broker-process.ts';
import { runKafkaTool } from '../../local/emulators/kafka/kafka-tool.ts';
import { canConnect } from '../../local/emulators/ports.ts';

const TOPIC_COMMAND = 'org.apache.kafka.tools.TopicCommand';
const CONSOLE_PRODUCER = 'org.apache.kafka.tools.ConsoleProducer';
const CONSOLE_CONSUMER = 'org.apache.kafka.tools.consumer.ConsoleConsumer';
const GET_OFFSET_SHELL = 'org.apache.kafka.tools.GetOffsetShell';

/** Enough distinct keys that the default partitioner puts some on each of 3 partitions. */
const RECORDS = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));

describe('local Kafka broker', () => {
  let broker: KafkaBroker;

  beforeAll(async () => {
    // This suite is about the broker we start, so a KAFKA_BROKERS of the caller must not apply.
    vi.stubEnv('KAFKA_BROKERS', undefined);
    try {
      broker = await startKafkaBroker();
    } finally {
      vi.unstubAllEnvs();
    }
  });

  afterAll(async () => {
    await broker?.stop();
  });

  it('serves a topic with 3 partitions: records written to each partition are read back', async () => {
    const topic = `roundtrip-${randomUUID()}`;
    await broker.createTopic(topic, 3);

    const description = await kafkaTool(TOPIC_COMMAND, ['--describe', '--topic', topic]);
    expect(description).toContain('PartitionCount: 3');

    await kafkaTool(
      CONSOLE_PRODUCER,
      ['--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=:'],
      RECORDS.map(({ key, value }) => `${key}:${value}\n`).join(''),
    );

    const endOffsets = await kafkaTool(GET_OFFSET_SHELL, ['--topic', topic]);
    const countByPartition = parseEndOffsets(endOffsets, topic);
    expect([...countByPartition.keys()].sort()).toEqual([0, 1, 2]);
    expect([...countByPartition.values()].every((count) => count > 0)).toBe(true);
    expect([...countByPartition.values()].reduce((a, b) => a + b)).toBe(RECORDS.length);

    const consumed = await kafkaTool(CONSOLE_CONSUMER, [
      '--topic',
      topic,
      '--from-beginning',
      '--max-messages',
      String(RECORDS.length),
      '--timeout-ms',
      '30000',
      '--property',
      'print.partition=true',
      '--property',
      'print.key=true',
      '--property',
      'key.separator=:',
    ]);
    const read = parseConsumed(consumed);
    expect(read.map(({ key, value }) => ({ key, value })).sort(byKey)).toEqual(
      [...RECORDS].sort(byKey),
    );
    for (const [partition, count] of countByPartition) {
      expect(read.filter((record) => record.partition === partition)).toHaveLength(count);
    }
  });

  it('with KAFKA_BROKERS set, starts nothing and creates topics on those brokers', async () => {
    vi.stubEnv('KAFKA_BROKERS', broker.bootstrap);
    let external: KafkaBroker;
    try {
      external = await startKafkaBroker({ topics: ['external-topic'], partitions: 2 });
    } finally {
      vi.unstubAllEnvs();
    }
    expect(external.bootstrap).toBe(broker.bootstrap);
    expect(external.pid).toBeUndefined();
    const description = await kafkaTool(TOPIC_COMMAND, ['--describe', '--topic', 'external-topic']);
    expect(description).toContain('PartitionCount: 2');

    await external.stop();
    expect(await acceptsConnections(broker.bootstrap)).toBe(true);
  });

  it('stop() ends the broker process and closes its port', async () => {
    const pid = broker.pid;
    expect(pid).toBeDefined();
    expect(await acceptsConnections(broker.bootstrap)).toBe(true);

    await broker.stop();

    expect(isProcessAlive(pid as number)).toBe(false);
    expect(await acceptsConnections(broker.bootstrap)).toBe(false);
  });

  async function kafkaTool(mainClass: string, args: string[], input?: string): Promise<string> {
    const bootstrap = ['--bootstrap-server', broker.bootstrap];
    const result = await runKafkaTool(mainClass, [...bootstrap, ...args], { input });
    return result.stdout;
  }
});

interface ConsumedRecord {
  partition: number;
  key: string;
  value: string;
}

/** GetOffsetShell prints `topic:partition:endOffset` lines. */
function parseEndOffsets(output: string, topic: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const line of output.trim().split('\n')) {
    const [name, partition, offset] = line.split(':');
    if (name === topic) {
      counts.set(Number(partition), Number(offset));
    }
  }
  return counts;
}

/** With print.partition and print.key the console consumer prints `Partition:P:key:value`. */
function parseConsumed(output: string): ConsumedRecord[] {
  return output
    .trim()
    .split('\n')
    .map((line) => {
      const [, partition, key, value] = line.split(':');
      return { partition: Number(partition), key: key ?? '', value: value ?? '' };
    });
}

function byKey(a: { key: string }, b: { key: string }): number {
  return a.key.localeCompare(b.key);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function acceptsConnections(bootstrap: string): Promise<boolean> {
  const [host, port] = bootstrap.split(':');
  return canConnect(Number(port), host);
}

describe('randomClusterId()', () => {
  it('never starts with "-", which the storage tool would take for an option', () => {
    const ids = Array.from({ length: 2_000 }, () => randomClusterId());
    expect(ids.every((id) => !id.startsWith('-') && /^[A-Za-z0-9_-]{22}$/.test(id))).toBe(true);
  });
});
