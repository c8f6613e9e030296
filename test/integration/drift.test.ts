/**
 * The drift check on real parts: each condition is provoked for real (sink stopped, writes
 * around the pipeline, Redis losing acknowledged writes, a skipped seq, a poison record) and the
 * local monitor must move the alarm OK -> ALARM (and back after the repair). Detection times are
 * printed; they are measured with a 250 ms check interval.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSinkPorts } from '../../functions/apply-events/create-handler.ts';
import { verifyFromTopic } from '../../functions/replay/verify.ts';
import { loadSinkConfig } from '../../functions/shared/config.ts';
import { createRedisClient, type RedisClient } from '../../functions/shared/redis/client.ts';
import { stateKey } from '../../functions/shared/redis/keys.ts';
import {
  type AlarmName,
  type AlarmState,
  thresholdsSchema,
} from '../../functions/shared/thresholds.ts';
import { DriftMonitor } from '../../local/drift-monitor.ts';
import { type Pipeline, startPipeline } from '../../local/pipeline.ts';
import { type RedisServer, startRedisServer } from '../../local/redis-server.ts';
import { createTopic, produce, type TestRecord, uniqueTopic } from '../helpers/kafka.ts';

const thresholds = thresholdsSchema.parse({
  consumerLagRecords: 50,
  appliedLagRecords: 50,
  timeLagSeconds: 2,
});

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.dispose();
});

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
});

const seed = (player: string, seq: number, delta = 1): TestRecord => ({
  partition: Number(player.replace(/\D/g, '')) % 2,
  key: player,
  value: JSON.stringify({ sequence_id: seq, player_id: player, delta }),
});

function events(players: number, perPlayer: number, firstSeq = 1): TestRecord[] {
  const records: TestRecord[] = [];
  for (let seq = firstSeq; seq < firstSeq + perPlayer; seq++) {
    for (let p = 0; p < players; p++) records.push(seed(`p${p}`, seq));
  }
  return records;
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return Date.now() - started;
}

interface Setup {
  topic: string;
  prefix: string;
  redis: RedisClient;
  raw: Redis;
  env: Record<string, string>;
  pipeline(): Pipeline;
  monitor: DriftMonitor;
  produced: number;
  produce(records: TestRecord[]): Promise<void>;
  caughtUp(): Promise<void>;
}

async function setUp(label: string): Promise<Setup> {
  const bootstrap = inject('kafkaBootstrap');
  const topic = uniqueTopic(label);
  await createTopic(bootstrap, topic, 2);
  const prefix = `d${randomBytes(4).toString('hex')}`;
  const env = {
    REDIS_URL: server.url,
    SEQGUARD_FORMAT: 'mapped',
    SEQGUARD_KEY_PREFIX: prefix,
    SEQGUARD_REDIS_TIMEOUT_MS: '500',
  };
  const sink = loadSinkConfig(env);
  const redis = createRedisClient({ ...sink.redis, commandTimeoutMs: 2_000 });
  const raw = new Redis(server.url);
  stops.push(
    async () => redis.disconnect(),
    async () => raw.disconnect(),
  );
  const groupId = `seqguard-${topic}`;
  const monitor = new DriftMonitor({
    dependencies: {
      kafka: { bootstrapBrokers: [bootstrap], clientId: 'drift-test' },
      redis,
      ports: createSinkPorts(redis, sink.guard),
      sink,
    },
    check: {
      topics: [topic],
      consumerGroup: groupId,
      autoReplay: true,
      replayLimit: 10_000,
      maxStateEntries: 1_000_000,
    },
    thresholds,
    intervalMs: 250,
    onTransition: (t) => console.log(`${label}: ${t.metric} ${t.from} -> ${t.to} at ${t.value}`),
  });
  stops.push(() => monitor.stop());
  let current: Pipeline | undefined;
  const ends = new Map<number, number>();
  const setup: Setup = {
    topic,
    prefix,
    redis,
    raw,
    env,
    monitor,
    produced: 0,
    pipeline: () => {
      current = startPipeline({
        bootstrap,
        topics: [topic],
        groupId,
        batchSize: 100,
        batchWindowMs: 50,
        retryBackoffMs: 50,
        functionEnv: env,
      });
      const running = current;
      stops.push(() => running.stop());
      return running;
    },
    produce: async (records) => {
      await produce(bootstrap, topic, records);
      for (const r of records) ends.set(r.partition, (ends.get(r.partition) ?? 0) + 1);
      setup.produced += records.length;
    },
    caughtUp: async () => {
      await waitFor(
        () =>
          [...ends].every(
            ([p, end]) => current?.mapping.committed.get(`${topic}-${p}`) === BigInt(end),
          ),
        'the sink to catch up',
      );
    },
  };
  return setup;
}

/** Waits until the monitor has `alarm` in `state`; returns the time it took. */
const alarmIn = (monitor: DriftMonitor, alarm: AlarmName, state: AlarmState, timeoutMs?: number) =>
  waitFor(() => monitor.states[alarm] === state, `${alarm} to be ${state}`, timeoutMs);

const detection = (what: string, ms: number) => console.log(`detected ${what} in ${ms} ms`);

describe('check-drift with the local monitor', () => {
  it('raises consumer lag, applied lag and time lag when the sink stops, and clears them when it is back', async () => {
    // Prepare
    const s = await setUp('stopped');
    await s.produce(events(10, 5));
    const first = s.pipeline();
    await s.caughtUp();
    s.monitor.start();
    await waitFor(() => s.monitor.lastReport !== undefined, 'a first report');
    expect(Object.values(s.monitor.states).every((state) => state === 'OK')).toBe(true);
    // Act: the sink stops, events keep coming.
    await first.stop();
    const stoppedAt = Date.now();
    await s.produce(events(10, 12, 6));
    // Assess
    const lag = await alarmIn(s.monitor, 'consumerLagRecords', 'ALARM');
    detection('consumer lag (sink stopped)', Date.now() - stoppedAt);
    expect(s.monitor.lastReport?.values.consumerLagRecords).toBe(120);
    expect(s.monitor.states.appliedLagRecords).toBe('ALARM');
    const timeLag = await alarmIn(s.monitor, 'timeLagSeconds', 'ALARM');
    detection('time lag > 2 s (sink stopped)', Date.now() - stoppedAt);
    expect(lag).toBeLessThan(5_000);
    expect(timeLag).toBeLessThan(10_000);

    s.pipeline();
    await s.caughtUp();
    await alarmIn(s.monitor, 'consumerLagRecords', 'OK');
    await alarmIn(s.monitor, 'timeLagSeconds', 'OK');
    const lagTransitions = s.monitor.transitions
      .filter((t) => t.alarm === 'consumerLagRecords')
      .map((t) => t.to);
    expect(lagTransitions).toEqual(['ALARM', 'OK']);
  });

  it('raises state drift when something writes around the pipeline', async () => {
    const s = await setUp('around');
    s.pipeline();
    await s.produce(events(5, 4));
    await s.caughtUp();
    s.monitor.start();
    await waitFor(() => s.monitor.lastReport !== undefined, 'a first report');
    expect(s.monitor.states.stateDriftKeys).toBe('OK');

    const wroteAt = Date.now();
    await s.raw.zincrby(stateKey('default', 'leaderboard', s.prefix), 50, 'p1');
    await alarmIn(s.monitor, 'stateDriftKeys', 'ALARM');
    detection('state drift (write around the pipeline)', Date.now() - wroteAt);
    expect(s.monitor.lastReport?.stateChecks).toContainEqual(
      expect.objectContaining({
        shard: 'default',
        name: 'leaderboard',
        kind: 'drift',
        expectedSum: '20',
        actualSum: '70',
      }),
    );

    await s.raw.zincrby(stateKey('default', 'leaderboard', s.prefix), -50, 'p1');
    await alarmIn(s.monitor, 'stateDriftKeys', 'OK');
  });

  it('sees Redis behind the committed offsets after it lost its data, replays the range and recovers the state', async () => {
    const s = await setUp('lost');
    const pipeline = s.pipeline();
    await s.produce(events(8, 10));
    await s.caughtUp();
    const board = async () =>
      s.raw.zrange(stateKey('default', 'leaderboard', s.prefix), '0', '-1', 'WITHSCORES');
    const before = await board();
    expect(before).toHaveLength(16);
    await pipeline.stop();

    // Redis restarts without persistence: every applied write is gone, Kafka's commits stay.
    await server.stop();
    await server.start();
    const lostAt = Date.now();
    expect(await board()).toEqual([]);
    s.monitor.start();
    await alarmIn(s.monitor, 'commitAheadRecords', 'ALARM');
    detection('commit ahead of applied (Redis restarted empty)', Date.now() - lostAt);
    expect(s.monitor.transitions.find((t) => t.alarm === 'commitAheadRecords')?.value).toBe(80);
    expect(s.monitor.lastReport?.replay?.records).toBe(80);

    await alarmIn(s.monitor, 'commitAheadRecords', 'OK');
    detection('repair by automatic replay (commit ahead back to OK)', Date.now() - lostAt);
    expect(await board()).toEqual(before);
    const verified = await verifyFromTopic({
      connection: { bootstrapBrokers: [inject('kafkaBootstrap')], clientId: 'drift-test' },
      redis: s.redis,
      topics: [s.topic],
      sink: loadSinkConfig(s.env),
    });
    expect(verified.complete).toBe(true);
    expect(verified.differences).toEqual([]);
  });

  it('counts the gap a skipped seq leaves, until the seq arrives', async () => {
    const s = await setUp('gap');
    s.pipeline();
    s.monitor.start();
    await waitFor(() => s.monitor.lastReport !== undefined, 'a first report');
    const sentAt = Date.now();
    await s.produce([seed('p1', 1), seed('p1', 2), seed('p1', 4)]);
    await alarmIn(s.monitor, 'openGaps', 'ALARM');
    detection('open gap (seq 3 skipped)', Date.now() - sentAt);
    expect(s.monitor.lastReport?.values.openGaps).toBe(1);

    await s.produce([seed('p1', 3)]);
    await alarmIn(s.monitor, 'openGaps', 'OK');
  });

  it('counts dead letters', async () => {
    const s = await setUp('poison');
    s.pipeline();
    s.monitor.start();
    await waitFor(() => s.monitor.lastReport !== undefined, 'a first report');
    const sentAt = Date.now();
    await s.produce([{ partition: 0, key: 'p0', value: 'not json' }]);
    await alarmIn(s.monitor, 'deadLetters', 'ALARM');
    detection('dead letter', Date.now() - sentAt);
    expect(s.monitor.lastReport?.values.deadLetters).toBe(1);
  });
});
