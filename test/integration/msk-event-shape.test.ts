/**
 * The emulator's MSK event against the example event in AWS's documentation
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html, kept in
 * test/fixtures/events/aws-msk-documentation-example.json): same fields, same types, same encodings.
 */
import type { MSKEvent } from 'aws-lambda';
import { describe, expect, inject, it, vi } from 'vitest';
import { EventSourceMapping } from '../../local/emulators/lambda/event-source-mapping.ts';
import { createTopic, produce, suiteKafkaSecurity, uniqueTopic } from '../helpers/kafka.ts';
import { loadEvent } from '../helpers/lambda.ts';

/** The shape of a JSON value: its type, and for objects and arrays, the shapes inside. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value))
    return [...new Set(value.map((v) => JSON.stringify(shapeOf(v))))].map((s) => JSON.parse(s));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]));
  }
  return value === null ? 'null' : typeof value;
}

async function captureEvent(topic: string): Promise<MSKEvent> {
  let captured: MSKEvent | undefined;
  const mapping = new EventSourceMapping({
    bootstrapBrokers: [inject('kafkaBootstrap')],
    security: suiteKafkaSecurity(),
    topics: [topic],
    groupId: `shape-${topic}`,
    batchWindowMs: 300,
    invoke: async (event) => {
      captured ??= event;
      return { kind: 'response', response: {} };
    },
  });
  mapping.start();
  try {
    return await vi.waitFor(
      () => {
        if (!captured) throw new Error('no event was delivered');
        return captured;
      },
      { timeout: 20_000, interval: 25 },
    );
  } finally {
    await mapping.stop();
  }
}

describe('the emulator MSK event', () => {
  it('has the shape of the event in the AWS documentation', async () => {
    // Prepare
    const documented = await loadEvent('aws-msk-documentation-example');
    const topic = uniqueTopic('mytopic');
    await createTopic(topic, 1);
    await produce(topic, [
      {
        partition: 0,
        key: 'recordKey',
        value: '{"key":"value"}',
        headers: { headerKey: 'headerValue' },
      },
    ]);
    // Act
    const event = await captureEvent(topic);
    // Assess
    expect(shapeOf(event)).toEqual(
      shapeOf({ ...documented, records: { [`${topic}-0`]: documented.records['mytopic-0'] } }),
    );
    expect(event.eventSource).toBe('aws:kafka');
    expect(event.eventSourceArn).toMatch(
      /^arn:aws:kafka:[^:]+:\d{12}:cluster\/[^/]+\/[0-9a-f-]+-\d+$/,
    );
    expect(event.bootstrapServers).toBe(inject('kafkaBootstrap'));
    const [record] = event.records[`${topic}-0`] ?? [];
    const [documentedRecord] = documented.records['mytopic-0'] ?? [];
    // Same bytes in, same encodings out as in the documented example.
    expect(record?.key).toBe(documentedRecord?.key);
    expect(record?.value).toBe(documentedRecord?.value);
    expect(record?.headers).toEqual(documentedRecord?.headers);
    expect(record).toMatchObject({ topic, partition: 0, offset: 0, timestampType: 'CREATE_TIME' });
    expect(Math.abs((record?.timestamp ?? 0) - Date.now())).toBeLessThan(60_000);
  });

  it('leaves out the key of a record that has none, and keeps binary values byte for byte', async () => {
    const topic = uniqueTopic('nokey');
    await createTopic(topic, 1);
    const bytes = Buffer.from([0, 255, 128, 10, 13]);
    await produce(topic, [{ partition: 0, value: bytes, headers: { bin: '\u00ff' } }]);
    const event = await captureEvent(topic);
    const [record] = event.records[`${topic}-0`] ?? [];
    expect(record && 'key' in record).toBe(false);
    expect(Buffer.from(record?.value ?? '', 'base64')).toEqual(bytes);
    expect(record?.headers).toEqual([{ bin: [...Buffer.from('\u00ff')] }]);
  });
});
