// The hardened producer against the real local broker: events of several scopes, stamped with
// their seqs, come back from a consumer keyed by scope, one partition per scope, in seq order.

import { randomUUID } from 'node:crypto';
import { type Admin, kOptions, type Message, stringDeserializer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProducerOptionsError } from '../../core/errors.ts';
import { parseJsonExact } from '../../core/events/int64.ts';
import { createAdmin, createConsumer } from '../../core/kafka/connection.ts';
import {
  createProducer,
  type EventProducer,
  type PublishedEvent,
  publishEvents,
} from '../../core/producer/producer.ts';
import {
  inMemorySequenceSource,
  type SequenceSource,
  type StampedEvent,
  stampEnvelope,
  stampSeedEvent,
} from '../../core/producer/sequencer.ts';
import { readAll, suiteKafka } from '../helpers/kafka.ts';

const PARTITIONS = 3;
const WALLETS = ['wallet-1', 'wallet-2', 'wallet-3', 'wallet-4'];
const PLAYERS = ['player-1', 'player-2'];
const ROUNDS = 5;

type ConsumedRecord = Message<string, string, string, string>;

let admin: Admin;
let topic: string;

beforeAll(async () => {
  admin = createAdmin(suiteKafka('seqguard-test-admin'));
  topic = `producer-${randomUUID()}`;
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
});
afterAll(async () => {
  await admin?.deleteTopics({ topics: [topic] });
  await admin?.close();
});

describe('createProducer() and publishEvents()', () => {
  let producer: EventProducer;
  let published: { event: StampedEvent<unknown>; at: PublishedEvent }[];
  let consumed: ConsumedRecord[];

  beforeAll(async () => {
    producer = createProducer(suiteKafka('seqguard-test'));
    published = await publishRounds(producer, inMemorySequenceSource());
    consumed = await consumeAll(published.length);
  });
  afterAll(async () => {
    await producer?.close();
  });

  it('keys every record by its scope, and returns where each event was written', () => {
    // Assess
    expect(consumed).toHaveLength(published.length);
    for (const { event, at } of published) {
      const record = consumed.find((r) => r.partition === at.partition && r.offset === at.offset);
      expect(record?.key).toBe(event.scope);
      expect(seqOf(record as ConsumedRecord)).toBe(event.seq);
    }
  });

  it('puts all records of a scope on one partition, with seqs 1, 2, 3, … in offset order', () => {
    // Assess
    const partitionsUsed = new Set<number>();
    for (const scope of [...WALLETS, ...PLAYERS]) {
      const records = consumed
        .filter((record) => record.key === scope)
        .sort((a, b) => (a.offset < b.offset ? -1 : 1));
      const partitions = new Set(records.map((record) => record.partition));
      expect(partitions.size, scope).toBe(1);
      partitionsUsed.add(records[0]?.partition ?? -1);
      expect(records.map(seqOf), scope).toEqual([1n, 2n, 3n, 4n, 5n]);
    }
    // Otherwise "one partition per scope" would hold trivially.
    expect(partitionsUsed.size).toBeGreaterThan(1);
  });

  it('is an idempotent producer: the broker assigned it a producer id, acks are all', () => {
    // Assess
    expect(typeof producer.producerId).toBe('bigint');
    expect(producer.producerId).toBeGreaterThanOrEqual(0n);
    expect(producer.producerEpoch).toBeGreaterThanOrEqual(0);
    expect(producer[kOptions]).toMatchObject({ idempotent: true, acks: -1, maxInflights: 1 });
    expect(producer[kOptions].retries).toBe(8);
  });
});

describe('publishEvents() record timestamps', () => {
  it("stamps a record with its event's timestamp when it has one, else with the send time", async () => {
    // Prepare
    const stamped = `producer-ts-${randomUUID()}`;
    await admin.createTopics({ topics: [stamped], partitions: 1, replicas: 1 });
    const producer = createProducer(suiteKafka('seqguard-test-timestamps'));
    const due = Date.now() - 60_000;
    try {
      // Act
      const before = Date.now();
      await publishEvents(producer, stamped, [
        { scope: 'held', value: { n: 1 }, timestamp: due },
        { scope: 'held', value: { n: 2 } },
      ]);
      const after = Date.now();
      // Assess
      const [held, now] = await readAll(stamped, 2);
      expect(held?.timestamp).toBe(BigInt(due));
      expect(Number(now?.timestamp)).toBeGreaterThanOrEqual(before);
      expect(Number(now?.timestamp)).toBeLessThanOrEqual(after);
    } finally {
      await producer.close();
      await admin.deleteTopics({ topics: [stamped] });
    }
  });
});

describe('createProducer() options', () => {
  it('refuses more than 5 in-flight requests, which idempotence cannot keep in order', () => {
    // Act
    const create = () => createProducer({ ...suiteKafka('too-many'), maxInflights: 6 });
    // Assess
    expect(create).toThrow(ProducerOptionsError);
    expect(create).toThrow(/maxInflights must be an integer from 1 to 5/);
  });

  it('is held at 1 in-flight request by @platformatic/kafka even when 5 are allowed', async () => {
    // Act
    const producer = createProducer({ ...suiteKafka('five-inflights'), maxInflights: 5 });
    // Assess: pins the client's behaviour, so an upgrade that honours 5 shows up here.
    expect(producer[kOptions].maxInflights).toBe(1);
    await producer.close();
  });
});

/**
 * ROUNDS rounds; in each, every scope gets its next event, all sent in one publishEvents call:
 * wallets as envelopes, players in the seed format.
 */
async function publishRounds(producer: EventProducer, source: SequenceSource) {
  const published: { event: StampedEvent<unknown>; at: PublishedEvent }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const events: StampedEvent<unknown>[] = [];
    for (const wallet of WALLETS) {
      const data = { key: 'balances', field: wallet, delta: round + 1 };
      events.push(await stampEnvelope(source, { scope: wallet, type: 'hincrby', data }));
    }
    for (const player of PLAYERS) {
      events.push(await stampSeedEvent(source, { player_id: player, delta: round + 1 }));
    }
    const offsets = await publishEvents(producer, topic, events);
    published.push(...events.map((event, i) => ({ event, at: offsets[i] as PublishedEvent })));
  }
  return published;
}

async function consumeAll(count: number): Promise<ConsumedRecord[]> {
  const consumer = createConsumer<string, string, string, string>(
    suiteKafka('seqguard-test-consumer'),
    {
      groupId: `producer-test-${randomUUID()}`,
      deserializers: {
        key: stringDeserializer,
        value: stringDeserializer,
        headerKey: stringDeserializer,
        headerValue: stringDeserializer,
      },
    },
  );
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  const records: ConsumedRecord[] = [];
  try {
    for await (const record of stream) {
      records.push(record);
      if (records.length >= count) break;
    }
  } finally {
    await stream.close();
    await consumer.close();
  }
  return records;
}

/** The seq an envelope (`seq`) or a seed event (`sequence_id`) carries. */
function seqOf(record: ConsumedRecord): bigint {
  const value = parseJsonExact(record.value ?? 'null') as { seq?: unknown; sequence_id?: unknown };
  return BigInt(String(value.seq ?? value.sequence_id));
}
