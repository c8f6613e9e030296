/**
 * The event source mapping emulator on a real Kafka broker, with an in-process function whose
 * answers the tests choose: batching, commits, partial batch responses, retries, bisection, the
 * record age limit and the on-failure destination.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MSKEvent } from 'aws-lambda';
import { describe, expect, inject, it, vi } from 'vitest';
import {
  type EsmActivity,
  EventSourceMapping,
  type EventSourceMappingOptions,
} from '../../local/emulators/lambda/event-source-mapping.ts';
import type { InvokeOutcome } from '../../local/emulators/lambda/handler-process.ts';
import {
  createTopic,
  produce,
  readAll,
  suiteKafkaSecurity,
  uniqueTopic,
} from '../helpers/kafka.ts';

const bootstrap = () => inject('kafkaBootstrap');

interface Seen {
  partition: string;
  offset: number;
  value: string;
}

/** Runs a mapping until `done` holds (or times out), recording every invocation. */
async function runMapping(
  options: Omit<EventSourceMappingOptions, 'bootstrapBrokers' | 'groupId' | 'invoke'>,
  answer: (event: MSKEvent, call: number) => InvokeOutcome | Promise<InvokeOutcome>,
  done: (calls: Seen[][], mapping: EventSourceMapping) => boolean,
  timeoutMs = 30_000,
) {
  const calls: Seen[][] = [];
  const activity: EsmActivity[] = [];
  const mapping = new EventSourceMapping({
    bootstrapBrokers: [bootstrap()],
    security: suiteKafkaSecurity(),
    groupId: `esm-${options.topics[0]}`,
    batchWindowMs: 100,
    retryBackoffMs: 20,
    ...options,
    onActivity: (a) => activity.push(a),
    invoke: async (event) => {
      calls.push(
        Object.entries(event.records).flatMap(([partition, records]) =>
          records.map((r) => ({
            partition,
            offset: r.offset,
            value: Buffer.from(r.value, 'base64').toString(),
          })),
        ),
      );
      return answer(event, calls.length);
    },
  });
  mapping.start();
  try {
    await vi.waitFor(
      () => {
        if (!done(calls, mapping)) throw new Error(`timed out after ${calls.length} invocations`);
      },
      { timeout: timeoutMs, interval: 25 },
    );
    // Commits follow the invocation: let the last one land.
    await sleep(200);
  } finally {
    await mapping.stop();
  }
  return { calls, activity, mapping };
}

const ok: InvokeOutcome = { kind: 'response', response: { batchItemFailures: [] } };
const header = (record: { headerEntries: [Buffer, Buffer][] } | undefined, name: string) =>
  record?.headerEntries.find(([k]) => k.toString() === name)?.[1].toString();
const delivered = (calls: Seen[][]) => calls.flat().map((s) => `${s.partition}@${s.offset}`);

describe('EventSourceMapping', () => {
  it('delivers every record in batches of at most batchSize and commits after success', async () => {
    // Prepare
    const topic = uniqueTopic('esm-basic');
    await createTopic(topic, 2);
    await produce(
      topic,
      Array.from({ length: 25 }, (_, i) => ({ partition: i % 2, value: `v${i}` })),
    );
    // Act
    const { calls, mapping } = await runMapping(
      { topics: [topic], batchSize: 5 },
      () => ok,
      (c) => c.flat().length >= 25,
    );
    // Assess
    expect(calls.every((c) => c.length <= 5)).toBe(true);
    expect(new Set(delivered(calls)).size).toBe(25);
    expect(delivered(calls)).toHaveLength(25);
    expect(Object.fromEntries(mapping.committed)).toEqual({
      [`${topic}-0`]: 13n,
      [`${topic}-1`]: 12n,
    });
  });

  it('consumes a partition again from its first failed record, and only that partition', async () => {
    const topic = uniqueTopic('esm-partial');
    await createTopic(topic, 2);
    await produce(topic, [
      ...Array.from({ length: 6 }, (_, i) => ({ partition: 0, value: `a${i}` })),
      ...Array.from({ length: 3 }, (_, i) => ({ partition: 1, value: `b${i}` })),
    ]);
    let failedOnce = false;
    const { calls, activity } = await runMapping(
      { topics: [topic], batchSize: 100, batchWindowMs: 300 },
      (event) => {
        const has3 = event.records[`${topic}-0`]?.some((r) => r.offset === 3);
        if (has3 && !failedOnce) {
          failedOnce = true;
          return {
            kind: 'response',
            response: {
              batchItemFailures: [{ itemIdentifier: { partition: `${topic}-0`, offset: 3 } }],
            },
          };
        }
        return ok;
      },
      (c) => failedOnce && c.length >= 2,
    );
    expect(
      delivered(calls)
        .filter((d) => d.startsWith(`${topic}-1`))
        .sort(),
    ).toEqual([0, 1, 2].map((o) => `${topic}-1@${o}`));
    const partition0 = delivered(calls).filter((d) => d.startsWith(`${topic}-0`));
    expect(partition0.slice(-3)).toEqual([3, 4, 5].map((o) => `${topic}-0@${o}`));
    expect(partition0.filter((d) => d === `${topic}-0@2`)).toHaveLength(1);
    expect(activity).toContainEqual({
      kind: 'retrying',
      partition: `${topic}-0`,
      offset: 3n,
      attempt: 1,
    });
  });

  it('bisects a failing batch, gives up on the poison record after the retries, and sends it to the destination', async () => {
    const topic = uniqueTopic('esm-poison');
    const destination = `${topic}-failures`;
    await createTopic(topic, 1);
    await createTopic(destination, 1);
    await produce(
      topic,
      Array.from({ length: 8 }, (_, i) => ({ partition: 0, value: i === 5 ? 'poison' : `v${i}` })),
    );
    const { calls, mapping } = await runMapping(
      {
        topics: [topic],
        batchSize: 8,
        batchWindowMs: 300,
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: 2,
        onFailureTopic: destination,
      },
      (event) => {
        const values = Object.values(event.records)
          .flat()
          .map((r) => Buffer.from(r.value, 'base64').toString());
        return values.includes('poison')
          ? { kind: 'functionError', errorType: 'Error', errorMessage: 'poison' }
          : ok;
      },
      (_calls, m) => m.stats.recordsDiscarded > 0 && (m.committed.get(`${topic}-0`) ?? 0n) >= 8n,
    );
    expect(mapping.stats.recordsDiscarded).toBe(1);
    // Every good record was applied at some point; only the poison one was given up on.
    for (const o of [0, 1, 2, 3, 4, 6, 7]) expect(delivered(calls)).toContain(`${topic}-0@${o}`);
    const [failed] = await readAll(destination, 1);
    expect(failed?.value.toString()).toBe('poison');
    expect(header(failed, 'seqguard-failure-reason')).toBe('RetryAttemptsExhausted');
  });

  it('sends records older than the maximum age to the destination instead of the function', async () => {
    const topic = uniqueTopic('esm-age');
    const destination = `${topic}-failures`;
    await createTopic(topic, 1);
    await createTopic(destination, 1);
    const old = BigInt(Date.now() - 3_600_000);
    await produce(topic, [
      { partition: 0, value: 'old', timestamp: old },
      { partition: 0, value: 'fresh' },
    ]);
    const { calls } = await runMapping(
      {
        topics: [topic],
        maximumRecordAgeMs: 60_000,
        onFailureTopic: destination,
        batchWindowMs: 300,
      },
      () => ok,
      (c) => c.length >= 1,
    );
    expect(calls.flat().map((s) => s.value)).toEqual(['fresh']);
    const [aged] = await readAll(destination, 1);
    expect(aged?.value.toString()).toBe('old');
    expect(header(aged, 'seqguard-failure-reason')).toBe('RecordAgeExceeded');
  });

  it('treats a response naming a record outside the batch as a failure of the whole batch', async () => {
    const topic = uniqueTopic('esm-invalid');
    await createTopic(topic, 1);
    await produce(topic, [{ partition: 0, value: 'x' }]);
    const { calls, mapping } = await runMapping(
      { topics: [topic] },
      (_event, call) =>
        call === 1
          ? {
              kind: 'response',
              response: {
                batchItemFailures: [{ itemIdentifier: { partition: 'nope-0', offset: 0 } }],
              },
            }
          : ok,
      (c) => c.length >= 2,
    );
    expect(delivered(calls)).toEqual([`${topic}-0@0`, `${topic}-0@0`]);
    expect(mapping.stats.functionErrors).toBe(1);
  });

  // Lambda developer guide, "Low latency processing for Kafka event sources"
  // (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-low-latency.html): with
  // MaximumBatchingWindowInSeconds 0 the records at hand are processed at once, without waiting
  // to fill the batch.
  it('with a batching window of 0, invokes for a lone record at once and polls an idle topic without a busy loop', async () => {
    // Prepare
    const topic = uniqueTopic('esm-low-latency');
    await createTopic(topic, 1);
    const calls: { records: number; latencyMs: number }[] = [];
    const mapping = new EventSourceMapping({
      bootstrapBrokers: [bootstrap()],
      security: suiteKafkaSecurity(),
      groupId: `esm-${topic}`,
      topics: [topic],
      batchSize: 100,
      batchWindowMs: 0,
      invoke: async (event) => {
        const records = Object.values(event.records).flat();
        const produced = Math.min(...records.map((r) => r.timestamp));
        calls.push({ records: records.length, latencyMs: Date.now() - produced });
        return ok;
      },
    });
    mapping.start();
    try {
      await mapping.ready;
      // Act: the topic stays empty for 1.5 s, then gets one record every 300 ms.
      const fetchesBefore = mapping.stats.fetches;
      await sleep(1_500);
      const idleFetches = mapping.stats.fetches - fetchesBefore;
      for (let i = 0; i < 5; i++) {
        await produce(topic, [{ partition: 0, value: `lone-${i}` }]);
        await sleep(300);
      }
      await expect
        .poll(() => calls.length, { timeout: 10_000, interval: 25 })
        .toBeGreaterThanOrEqual(5);
      // Assess: a long poll answers about twice a second while idle (a fetch wait of 0 would
      // answer thousands of times); each record went alone, well before any batching window or
      // idle poll would have ended.
      expect(idleFetches).toBeLessThanOrEqual(8);
      expect(calls.map((c) => c.records)).toEqual([1, 1, 1, 1, 1]);
      const latencies = calls.map((c) => c.latencyMs).sort((a, b) => a - b);
      expect(latencies[2]).toBeLessThan(150);
    } finally {
      await mapping.stop();
    }
  });
});
