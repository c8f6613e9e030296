/**
 * A drift-check test bench on real parts: a redis-server of the file's own (so a test may stop,
 * restart or freeze it; or a cluster of the file's own), a topic on the suite's broker, the real sink through the event source
 * mapping emulator, and the local drift monitor checking every 250 ms. Everything a test starts
 * is stopped after it.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, vi } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { type AlarmName, type AlarmState, thresholdsSchema } from '../../core/config/thresholds.ts';
import { topicPartition } from '../../core/events/topic-partition.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { createSinkPorts } from '../../core/sink/redis-ports.ts';
import type { Pipeline, PipelineOptions } from '../../local/emulators/pipeline.ts';
import type { RedisCluster } from '../../local/emulators/redis/cluster.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import { DriftMonitor } from '../../tools/drift-monitor.ts';
import {
  createTopic,
  produce,
  startSuitePipeline,
  suiteKafka,
  type TestRecord,
  uniqueTopic,
} from './kafka.ts';
import {
  coldStartClient,
  type RedisTarget,
  rawClient,
  redisEnv,
  startTestRedisServer,
  targetOf,
} from './redis.ts';

const thresholds = thresholdsSchema.parse({
  consumerLagRecords: 50,
  appliedLagRecords: 50,
  timeLagSeconds: 2,
});

/** An event of the seed format; without a seq when `seq` is null (guarded by offset). */
export const seed = (player: string, seq: number | null, delta = 1): TestRecord => ({
  partition: Number(player.replace(/\D/g, '')) % 2,
  key: player,
  value: JSON.stringify(
    seq === null ? { player_id: player, delta } : { sequence_id: seq, player_id: player, delta },
  ),
});

export function events(players: number, perPlayer: number, firstSeq = 1): TestRecord[] {
  const records: TestRecord[] = [];
  for (let seq = firstSeq; seq < firstSeq + perPlayer; seq++) {
    for (let p = 0; p < players; p++) records.push(seed(`p${p}`, seq));
  }
  return records;
}

/** Waits until `check` holds, checking every 25 ms; returns the time it took. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<number> {
  const started = Date.now();
  await vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`timed out waiting for ${what}`);
    },
    { timeout: timeoutMs, interval: 25 },
  );
  return Date.now() - started;
}

export interface DriftSetup {
  topic: string;
  prefix: string;
  redis: RedisClient;
  /** A plain client of the same Redis (a cluster client on a cluster). */
  raw: Redis | Cluster;
  env: Record<string, string>;
  /** The pipeline, with the set-up's settings unless `options` gives others. */
  pipeline(options?: {
    function?: Partial<PipelineOptions['function']>;
    mapping?: Partial<PipelineOptions['mapping']>;
  }): Pipeline;
  monitor: DriftMonitor;
  produced: number;
  /** Produces records in order; returns each one's `<topic>-<partition>@<offset>`. */
  produce(records: TestRecord[]): Promise<string[]>;
  caughtUp(timeoutMs?: number): Promise<void>;
}

/** Waits until the monitor has `alarm` in `state`; returns the time it took. */
export const alarmIn = (
  monitor: DriftMonitor,
  alarm: AlarmName,
  state: AlarmState,
  timeoutMs?: number,
) => waitFor(() => monitor.states[alarm] === state, `${alarm} to be ${state}`, timeoutMs);

export const detection = (what: string, ms: number) => console.log(`detected ${what} in ${ms} ms`);

/** What the bench needs of the file's Redis: a redis-server by default, or a cluster. */
export type DriftRedis = RedisServer | RedisCluster;

/**
 * Registers the file's Redis (`start`: a redis-server in the suite's security shape unless told)
 * and the clean-up; returns the test's set-up. `env` adds to or overrides the sink's environment
 * (SEQGUARD_KEY_PREFIX, …); the Redis part of it (REDIS_URL, SEQGUARD_REDIS_CLUSTER, the CA and
 * the auth secret) comes from the file's Redis.
 */
export function useDriftBench<R extends DriftRedis = RedisServer>(
  start: () => Promise<R> = startTestRedisServer as unknown as () => Promise<R>,
): {
  server: () => R;
  target: () => RedisTarget;
  setUp: (label: string, env?: Record<string, string>) => Promise<DriftSetup>;
} {
  let server: R;
  let target: RedisTarget;
  beforeAll(async () => {
    server = await start();
    target = await targetOf(server);
  });
  afterAll(async () => {
    await server.dispose();
  });
  const stops: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  });

  async function setUp(label: string, extraEnv: Record<string, string> = {}): Promise<DriftSetup> {
    const topic = uniqueTopic(label);
    await createTopic(topic, 2);
    const env: Record<string, string> = {
      ...redisEnv(target),
      SEQGUARD_FORMAT: 'mapped',
      SEQGUARD_KEY_PREFIX: `d${randomBytes(4).toString('hex')}`,
      SEQGUARD_REDIS_TIMEOUT_MS: '500',
      ...extraEnv,
    };
    const sink = loadSinkConfig(env);
    const prefix = sink.guard.keyPrefix;
    const redis = await coldStartClient({ ...sink.redis, commandTimeoutMs: 2_000 });
    // Through the node the sink's environment names (a test may pick one it leaves alone).
    const raw = rawClient({ ...target, url: sink.redis.url, cluster: sink.redis.cluster });
    stops.push(
      async () => redis.disconnect(),
      async () => raw.disconnect(),
    );
    const groupId = `seqguard-${topic}`;
    const monitor = new DriftMonitor({
      dependencies: {
        kafka: suiteKafka('drift-test'),
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
    const setup: DriftSetup = {
      topic,
      prefix,
      redis,
      raw,
      env,
      monitor,
      produced: 0,
      pipeline: (options = {}) => {
        current = startSuitePipeline({
          function: { env, ...options.function },
          mapping: {
            topics: [topic],
            groupId,
            batchSize: 100,
            batchWindowMs: 50,
            retryBackoffMs: 50,
            ...options.mapping,
          },
        });
        const running = current;
        stops.push(() => running.stop());
        return running;
      },
      produce: async (records) => {
        await produce(topic, records);
        // One producer, no transactions, a fresh topic: offsets follow each other.
        const positions = records.map((r) => {
          const offset = ends.get(r.partition) ?? 0;
          ends.set(r.partition, offset + 1);
          return `${topicPartition({ topic, partition: r.partition })}@${offset}`;
        });
        setup.produced += records.length;
        return positions;
      },
      caughtUp: async (timeoutMs) => {
        await waitFor(
          () =>
            [...ends].every(
              ([p, end]) =>
                current?.mapping.committed.get(topicPartition({ topic, partition: p })) ===
                BigInt(end),
            ),
          'the sink to catch up',
          timeoutMs,
        );
      },
    };
    return setup;
  }
  return { server: () => server, target: () => target, setUp };
}
