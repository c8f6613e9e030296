/**
 * verify against real parts. The model of the guard must agree with lua/applyBatch-6.lua on
 * whatever the sink is fed (a property on a real Redis), and verifyFromTopic must find nothing
 * after the real sink core applied a real Kafka topic, then exactly what was written around it.
 */
import { randomBytes } from 'node:crypto';
import type { MSKRecord } from 'aws-lambda';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadSinkConfig, type SinkConfig } from '../../core/config/config.ts';
import { createAdmin } from '../../core/kafka/connection.ts';
import { type ConsumedRecord, toMskEvent } from '../../core/kafka/msk-event.ts';
import { stateKey } from '../../core/layout/keys.ts';
import { applyChunk } from '../../core/redis/apply-batch.ts';
import { createRedisClient, type RedisClient } from '../../core/redis/client.ts';
import { appendDeadLetters } from '../../core/redis/dead-letter.ts';
import { applyRecords } from '../../core/sink/apply-records.ts';
import type { SinkPorts } from '../../core/sink/ports.ts';
import { verifyState } from '../../tools/verify/compare.ts';
import { expectedState } from '../../tools/verify/expected-state.ts';
import { verifyFromTopic } from '../../tools/verify/verify.ts';
import { mskEvent, mskRecord } from '../helpers/events.ts';
import {
  createTopic,
  produce,
  readAll,
  suiteKafka,
  type TestRecord,
  uniqueTopic,
} from '../helpers/kafka.ts';
import { appLogin, rawRedis, redisEnv, suiteTarget } from '../helpers/redis.ts';

const runs = Math.max(1, Math.round(Number(process.env.SEQGUARD_PROPERTY_RUNS ?? 1_000) / 5));

const clients: RedisClient[] = [];
let raw: Redis;
/** For the clean-up: KEYS is for operators only (-@dangerous), as in a deployment. */
let admin: Redis;
beforeAll(() => {
  raw = rawRedis(suiteTarget());
  admin = rawRedis(suiteTarget(), 'admin');
});
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});
afterAll(() => {
  raw.disconnect();
  admin.disconnect();
});

/** The real sink core on its own random key prefix, with the handler's two ports. */
function sink(env: Record<string, string> = {}) {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const config: SinkConfig = loadSinkConfig({
    ...redisEnv(),
    SEQGUARD_KEY_PREFIX: prefix,
    SEQGUARD_CHUNK_SIZE: '3',
    ...env,
  });
  const redis = createRedisClient({ ...config.redis, ...appLogin(suiteTarget()) });
  clients.push(redis);
  const ports: SinkPorts = {
    applyChunk: (shard, events) => applyChunk(redis, shard, events, config.guard),
    appendDeadLetters: (letters) => appendDeadLetters(redis, letters, config.guard.keyPrefix),
  };
  const apply = (records: MSKRecord[]) =>
    applyRecords(mskEvent(records), ports, {
      decode: config.decode,
      chunkSize: config.chunkSize,
      shardConcurrency: config.shardConcurrency,
    });
  return { prefix, config, redis, apply };
}

async function removeKeys(prefix: string) {
  const keys = await admin.keys(`{${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
}

/** Envelope events whose values stress the guard: type clashes, overflow, bad numbers. */
function arbitraryValue(g: fc.GeneratorValue): string {
  const op = g(fc.constantFrom, 'zincrby', 'hincrby', 'hsetIfNewer');
  const key = g(fc.constantFrom, 'k1', 'k2');
  const target = g(fc.constantFrom, 'm1', 'm2');
  const data =
    op === 'zincrby'
      ? `{"key":"${key}","member":"${target}","delta":${g(fc.constantFrom, '1', '-2', '0.5', '0.1', '"1e-400"', '"2.5e-1"')}}`
      : op === 'hincrby'
        ? `{"key":"${key}","field":"${target}","delta":${g(fc.constantFrom, '1', '-3', '4611686018427387904')}}`
        : `{"key":"${key}","field":"${target}","value":"${g(fc.constantFrom, 'x', '7', '-0', '12')}","version":${g(fc.integer, { min: 0, max: 3 })}}`;
  const seq = g(fc.option, fc.integer({ min: 0, max: 5 }), { freq: 4 });
  const header = seq === null ? '' : `"seq":${seq},"scope":"${g(fc.constantFrom, 'a', 'b')}",`;
  if (g(fc.integer, { min: 0, max: 15 }) === 0) return '{"type":"zincrby"}';
  return `{${header}"shard":"${g(fc.constantFrom, 's1', 's2')}","type":"${op}","data":${data}}`;
}

/** As the event source mapping delivers: batches of each partition in order, rewinding. */
function deliveries(g: fc.GeneratorValue, log: MSKRecord[][]): MSKRecord[][] {
  const positions = log.map(() => 0);
  const batches: MSKRecord[][] = [];
  let rewinds = 0;
  while (positions.some((position, p) => position < (log[p]?.length ?? 0))) {
    const batch: MSKRecord[] = [];
    for (const p of g(fc.shuffledSubarray, [0, 1], { minLength: 2, maxLength: 2 })) {
      const records = log[p] ?? [];
      const from = positions[p] ?? 0;
      const to = Math.min(records.length, from + g(fc.integer, { min: 1, max: 6 }));
      batch.push(...records.slice(from, to));
      positions[p] =
        rewinds < 3 && g(fc.boolean) ? g(fc.integer, { min: Math.max(0, from - 2), max: to }) : to;
      if (positions[p] !== to) rewinds += 1;
    }
    if (batch.length > 0) batches.push(batch);
  }
  return batches;
}

describe('expectedState()', () => {
  it('agrees with the Lua guard on real Redis, whatever the sink is fed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.gen(), async (g) => {
        // Prepare
        const { prefix, config, redis, apply } = sink();
        const log = [0, 1].map((partition) =>
          Array.from({ length: g(fc.integer, { min: 0, max: 12 }) }, (_, offset) =>
            mskRecord({ topic: 't', partition, offset, value: Buffer.from(arbitraryValue(g)) }),
          ),
        );
        const batches = deliveries(g, log);
        const totals = { applied: 0, late: 0, duplicates: 0, deadLettered: 0 };
        try {
          // Act
          for (const batch of batches) {
            const { summary, response } = await apply(batch);
            expect(response.batchItemFailures).toEqual([]);
            totals.applied += summary.applied;
            totals.late += summary.late;
            totals.duplicates += summary.duplicates;
            totals.deadLettered += summary.deadLettered;
          }
          const expected = expectedState(batches.flat(), {
            decode: config.decode,
            firstSeq: config.guard.firstSeq,
          });
          const differences = await verifyState(redis, expected, { keyPrefix: prefix });
          // Assess
          expect(differences).toEqual([]);
          expect({
            applied: expected.events,
            late: expected.late,
            duplicates: expected.duplicates,
            deadLettered: expected.invalid + expected.rejected,
          }).toEqual(totals);
        } finally {
          redis.disconnect();
          await removeKeys(prefix);
        }
      }),
      { numRuns: runs },
    );
  });
});

interface Produced {
  records: TestRecord[];
  /** Events that must apply, duplicates and malformed records among the records. */
  unique: number;
  resends: number;
  malformed: number;
}

/**
 * Two shards, a leaderboard with float deltas, counters and profile fields, seqs per player,
 * each player keyed to one partition. Mixed in: producer resends, a late event, events without
 * a seq and malformed records.
 */
function produceGame(): Produced {
  const records: TestRecord[] = [];
  let unique = 0;
  let resends = 0;
  const players = Array.from({ length: 6 }, (_, i) => `p-${i}`);
  for (const [i, player] of players.entries()) {
    const shard = i % 2 === 0 ? 'game-a' : 'game-b';
    const partition = i % 3;
    const events = Array.from({ length: 8 }, (_, k) => {
      const seq = k + 1;
      const type = ['zincrby', 'hincrby', 'hsetIfNewer'][k % 3];
      const data =
        type === 'zincrby'
          ? { key: 'board', member: player, delta: seq + 0.1 }
          : type === 'hincrby'
            ? { key: 'coins', field: player, delta: seq * 100 - 250 }
            : { key: 'profile', field: player, value: `level-${seq}`, version: 10 - seq };
      return { seq, shard, type, data };
    });
    // The producer sent seq 5 before seq 4: it lands in a gap.
    [events[3], events[4]] = [events[4], events[3]] as [(typeof events)[0], (typeof events)[0]];
    for (const event of events) {
      records.push({ partition, key: player, value: JSON.stringify(event) });
      unique += 1;
      if (event.seq % 3 === 0) {
        records.push({ partition, key: player, value: JSON.stringify(event) });
        resends += 1;
      }
    }
    const bonus = { shard, type: 'zincrby', data: { key: 'board', member: player, delta: 1 } };
    records.push({ partition, value: JSON.stringify(bonus) }, { partition, value: '{"seq": 1' });
    unique += 1;
  }
  return { records, unique, resends, malformed: players.length };
}

/** Reads the topic back and applies it through the sink in batches, one of them twice. */
async function applyTopic(
  apply: (records: MSKRecord[]) => Promise<unknown>,
  topic: string,
  count: number,
) {
  const consumed = (await readAll(topic, count)) as ConsumedRecord[];
  expect(consumed).toHaveLength(count);
  const identity = { eventSourceArn: 'arn:aws:kafka:local', bootstrapServers: 'local' };
  const batches: MSKRecord[][] = [];
  for (let i = 0; i < consumed.length; i += 10) {
    const event = toMskEvent(consumed.slice(i, i + 10), identity);
    batches.push(Object.values(event.records).flat());
  }
  for (const batch of [...batches, batches[1] ?? []]) await apply(batch);
}

describe('verifyFromTopic()', () => {
  it('finds no difference after the sink applied the topic, then exactly what was written around it', async () => {
    // Prepare
    const topic = uniqueTopic('verify');
    await createTopic(topic, 3);
    const game = produceGame();
    await produce(topic, game.records);
    const { prefix, config, redis, apply } = sink({ SEQGUARD_CHUNK_SIZE: '4' });
    await applyTopic(apply, topic, game.records.length);
    const options = {
      connection: suiteKafka('seqguard-verify-test'),
      redis,
      topics: [topic],
      sink: config,
    };
    try {
      // Act
      const clean = await verifyFromTopic(options);
      await raw.zincrby(stateKey('game-a', 'board', prefix), 5, 'p-0');
      await raw.zadd(stateKey('game-a', 'board', prefix), 1, 'intruder');
      await raw.hdel(stateKey('game-b', 'coins', prefix), 'p-1');
      const drifted = await verifyFromTopic(options);
      // Assess
      expect(clean).toMatchObject({
        complete: true,
        partitions: 3,
        records: game.records.length,
        missingOffsets: 0,
        events: game.unique,
        late: 6,
        duplicates: game.resends,
        invalid: game.malformed,
        rejected: 0,
        differences: [],
      });
      expect(drifted.differences).toEqual([
        {
          shard: 'game-a',
          key: 'board',
          target: 'intruder',
          kind: 'extra',
          expected: null,
          actual: '1',
        },
        {
          shard: 'game-a',
          key: 'board',
          target: 'p-0',
          kind: 'value',
          expected: expect.any(String),
          actual: expect.any(String),
        },
        {
          shard: 'game-b',
          key: 'coins',
          target: 'p-1',
          kind: 'missing',
          expected: '750',
          actual: null,
        },
      ]);
      const p0 = drifted.differences[1];
      expect(Number(p0?.actual) - Number(p0?.expected)).toBeCloseTo(5, 9);
    } finally {
      await removeKeys(prefix);
    }
  });

  it('reports an incomplete result, not differences, when retention deleted records', async () => {
    // Prepare
    const topic = uniqueTopic('verify-retention');
    await createTopic(topic, 2);
    const event = (seq: number) =>
      JSON.stringify({
        seq,
        scope: 'a',
        type: 'hincrby',
        data: { key: 'c', field: 'f', delta: 1 },
      });
    await produce(
      topic,
      [1, 2, 3, 4].map((seq) => ({ partition: 0, value: event(seq) })),
    );
    const kafkaAdmin = createAdmin(suiteKafka('seqguard-test-admin'));
    try {
      await kafkaAdmin.deleteRecords({
        topics: [{ name: topic, partitions: [{ partition: 0, offset: 2n }] }],
      });
    } finally {
      await kafkaAdmin.close();
    }
    const { config, redis } = sink();
    // Act
    const result = await verifyFromTopic({
      connection: suiteKafka('seqguard-verify-test'),
      redis,
      topics: [topic],
      sink: config,
    });
    // Assess
    expect(result).toMatchObject({
      complete: false,
      firstOffsets: [{ topicPartition: `${topic}-0`, earliest: 2n }],
      partitions: 2,
      differences: [],
    });
  });
});
