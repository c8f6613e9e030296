/**
 * End to end on real parts: Kafka topic -> event source mapping emulator -> the apply-events
 * handler in its own process -> Redis. Crashes, outages, poison records and redeliveries must
 * leave Redis equal to the unique events, exactly.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterKeys, shardKeys, stateKey } from '../../core/layout/keys.ts';
import type { EsmActivity } from '../../local/emulators/lambda/event-source-mapping.ts';
import type { PipelineOptions } from '../../local/emulators/pipeline.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import {
  createTopic,
  endOffsets,
  produce,
  startSuitePipeline,
  type TestRecord,
  uniqueTopic,
} from '../helpers/kafka.ts';
import {
  type RedisTarget,
  rawRedis,
  redisEnv,
  startTestRedisServer,
  targetOf,
} from '../helpers/redis.ts';
import { streamEntries } from '../helpers/stream.ts';

const partitions = 3;
const players = 12;

let redisServer: RedisServer;
let target: RedisTarget;
let redis: Redis;
beforeAll(async () => {
  redisServer = await startTestRedisServer();
  target = await targetOf(redisServer);
  redis = rawRedis(target);
});
afterAll(async () => {
  redis.disconnect();
  await redisServer.dispose();
});

interface SeedEvent {
  sequence_id: number;
  player_id: string;
  delta: number;
}

/** Seed-format events, seq per player, each player on one partition; some producer resends. */
function seedEvents(count: number): {
  records: TestRecord[];
  expected: Map<string, number>;
  unique: number;
} {
  const nextSeq = new Map<string, number>();
  const expected = new Map<string, number>();
  const records: TestRecord[] = [];
  for (let i = 0; i < count; i++) {
    const player = `p-${(i * 7) % players}`;
    const seq = (nextSeq.get(player) ?? 0) + 1;
    nextSeq.set(player, seq);
    const event: SeedEvent = { sequence_id: seq, player_id: player, delta: (i % 5) + 1 };
    expected.set(player, (expected.get(player) ?? 0) + event.delta);
    const record = {
      partition: Number(player.slice(2)) % partitions,
      key: player,
      value: JSON.stringify(event),
    };
    records.push(record);
    if (i % 97 === 0) records.push({ ...record }); // a producer retry: the same event twice
  }
  return { records, expected, unique: count };
}

/** Runs the pipeline over `records` until every partition is committed to its end. */
async function runPipeline(
  topic: string,
  records: TestRecord[],
  prefix: string,
  extra: {
    function?: Partial<PipelineOptions['function']>;
    mapping?: Partial<PipelineOptions['mapping']>;
  } = {},
) {
  const activity: EsmActivity[] = [];
  const pipeline = startSuitePipeline({
    function: {
      env: {
        ...redisEnv(target),
        SEQGUARD_FORMAT: 'mapped',
        SEQGUARD_KEY_PREFIX: prefix,
        SEQGUARD_REDIS_TIMEOUT_MS: '300',
        SEQGUARD_CHUNK_SIZE: '10',
      },
      ...extra.function,
    },
    mapping: {
      topics: [topic],
      groupId: `seqguard-${topic}`,
      batchSize: 50,
      batchWindowMs: 100,
      retryBackoffMs: 50,
      ...extra.mapping,
      onActivity: (a) => {
        activity.push(a);
        extra.mapping?.onActivity?.(a);
      },
    },
  });
  try {
    const ends = endOffsets(records, topic);
    await expect
      .poll(() => [...ends].every(([id, end]) => pipeline.mapping.committed.get(id) === end), {
        timeout: 60_000,
        interval: 50,
        message: 'the pipeline to catch up',
      })
      .toBe(true);
  } finally {
    await pipeline.stop();
  }
  return { activity, pipeline };
}

async function leaderboard(prefix: string): Promise<Map<string, number>> {
  const flat = await redis.zrange(
    stateKey('default', 'leaderboard', prefix),
    '0',
    '-1',
    'WITHSCORES',
  );
  const board = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) board.set(flat[i] as string, Number(flat[i + 1]));
  return board;
}

const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => a.localeCompare(b));

async function setUp(label: string, count: number) {
  const topic = uniqueTopic(label);
  await createTopic(topic, partitions);
  const events = seedEvents(count);
  await produce(topic, events.records);
  return { topic, ...events, prefix: `e${randomBytes(4).toString('hex')}` };
}

describe('the local pipeline', () => {
  it('applies every event once across a handler crash mid-batch, in order per partition', async () => {
    // Prepare
    const { topic, records, expected, unique, prefix } = await setUp('crash', 1500);
    let kills = 0;
    let hits = 0;
    let armed = false;
    // Act: the sandbox dies (SIGKILL) a moment into its 4th invocation and, after that kill hit
    // a batch, into its 9th. A kill that finds the invocation already returned hit no batch: the
    // next invocation gets another one.
    const { activity, pipeline } = await runPipeline(topic, records, prefix, {
      mapping: {
        onActivity: (a) => {
          if (a.kind !== 'invoked' || !armed) return;
          armed = false;
          if (a.outcome === 'functionError' && /SIGKILL/.test(a.detail ?? '')) hits += 1;
        },
      },
      function: {
        onInvoke: (sandbox, invocation) => {
          if (armed || hits >= 2 || invocation < (hits === 0 ? 4 : 9)) return;
          setTimeout(() => {
            if (sandbox.busy && sandbox.kill('SIGKILL')) {
              kills += 1;
              armed = true;
            }
          }, 3);
        },
      },
    });
    // Assess: two batches died mid-way, each a cold start of its own, and were retried.
    expect(hits).toBe(2);
    expect(pipeline.sandbox.coldStarts).toBe(kills + 1);
    const crashed = activity.filter((a) => a.kind === 'invoked' && a.outcome === 'functionError');
    expect(crashed.length).toBeGreaterThanOrEqual(2);
    expect(sorted(await leaderboard(prefix))).toEqual(sorted(expected));
    const keys = shardKeys('default', prefix);
    expect(await redis.xlen(keys.stream)).toBe(unique);
    // Per partition order held: no event was ever late, no gap ever opened.
    expect(await redis.zcard(keys.gaps)).toBe(0);
    const late = (await streamEntries(redis, keys.stream)).filter((entry) => entry.late);
    expect(late).toHaveLength(0);
  });

  it('applies every event once in low-latency mode (a batching window of 0)', async () => {
    // Prepare
    const { topic, records, expected, unique, prefix } = await setUp('low-latency', 600);
    // Act
    const { pipeline } = await runPipeline(topic, records, prefix, {
      mapping: { batchWindowMs: 0 },
    });
    // Assess
    expect(sorted(await leaderboard(prefix))).toEqual(sorted(expected));
    expect(await redis.xlen(shardKeys('default', prefix).stream)).toBe(unique);
    expect(pipeline.mapping.stats.recordsDelivered).toBe(records.length);
  });

  it('retries through a Redis outage without losing or repeating an event', async () => {
    const { topic, records, expected, unique, prefix } = await setUp('outage', 800);
    let frozen = false;
    const { activity } = await runPipeline(topic, records, prefix, {
      function: {
        onInvoke: (_sandbox, invocation) => {
          if (invocation === 3) {
            redisServer.freeze();
            frozen = true;
            setTimeout(() => redisServer.thaw(), 1_500);
          }
        },
      },
    });
    expect(frozen).toBe(true);
    const failedBatches = activity.filter(
      (a) =>
        a.kind === 'invoked' && (a.outcome === 'partialFailure' || a.outcome === 'functionError'),
    );
    expect(failedBatches.length).toBeGreaterThan(0);
    expect(activity.some((a) => a.kind === 'retrying')).toBe(true);
    expect(sorted(await leaderboard(prefix))).toEqual(sorted(expected));
    expect(await redis.xlen(shardKeys('default', prefix).stream)).toBe(unique);
  });

  it('dead-letters a poison record and goes on with the rest of its partition', async () => {
    const { topic, records, expected, prefix } = await setUp('poison', 300);
    const poison: TestRecord = {
      partition: 1,
      key: 'p-1',
      value: '{"sequence_id": "NaN", "player_id":',
    };
    const more = seedEvents(0);
    await produce(topic, [poison]);
    const after: TestRecord = {
      partition: 1,
      key: 'p-late',
      value: JSON.stringify({ sequence_id: 1, player_id: 'p-late', delta: 9 }),
    };
    await produce(topic, [after]);
    await runPipeline(topic, [...records, poison, after, ...more.records], prefix);

    const letters = await redis.xrange(deadLetterKeys(prefix).stream, '-', '+');
    expect(letters).toHaveLength(1);
    expect(letters[0]?.[1]).toContain(`${topic}-1`);
    expect((letters[0]?.[1] ?? []).join(' ')).toMatch(/value is not JSON/);
    expect(sorted(await leaderboard(prefix))).toEqual(
      sorted(new Map([...expected, ['p-late', 9]])),
    );
  });

  it('changes nothing when already applied batches are delivered again', async () => {
    const { topic, records, expected, unique, prefix } = await setUp('redeliver', 400);
    await runPipeline(topic, records, prefix);
    const keys = shardKeys('default', prefix);
    const before = {
      board: await leaderboard(prefix),
      stream: await redis.xlen(keys.stream),
      meta: await redis.hgetall(keys.meta),
    };
    // A second mapping with a new consumer group delivers the whole topic again.
    await runPipeline(topic, records, prefix, { mapping: { groupId: `seqguard-${topic}-again` } });
    expect(sorted(await leaderboard(prefix))).toEqual(sorted(before.board));
    expect(sorted(before.board)).toEqual(sorted(expected));
    expect(await redis.xlen(keys.stream)).toBe(before.stream);
    expect(before.stream).toBe(unique);
    expect(await redis.hgetall(keys.meta)).toEqual(before.meta);
  });
});
