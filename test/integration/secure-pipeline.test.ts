/**
 * The whole pipeline in production's security shape, on a single Redis and on a 3-master
 * cluster: a broker that authenticates like MSK (SASL_SSL, MSK IAM tokens it checks), Redis
 * over TLS with an ACL user and the default user off, its password in a local Secrets Manager.
 * The producer, the event source mapping's consumer, the function (whose cold start reads the
 * password from the Secrets Manager API), check-drift, replay, verify and the operator CLI all
 * connect through the one connection module and the project's Redis client, and the state ends
 * exact.
 *
 * It runs on the suites' shared servers (global setup), or on servers of its own when the suites
 * run plaintext.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { checkDrift } from '../../core/drift/check-drift.ts';
import { topicPartition } from '../../core/events/topic-partition.ts';
import { createAdmin, type KafkaConnection } from '../../core/kafka/connection.ts';
import { stateKey } from '../../core/layout/keys.ts';
import { createProducer, publishEvents } from '../../core/producer/producer.ts';
import { createRedisClient, type RedisClient } from '../../core/redis/client.ts';
import { deadLetterCounts } from '../../core/redis/dead-letter.ts';
import { createSinkPorts } from '../../core/sink/redis-ports.ts';
import { replay } from '../../core/sink/replay.ts';
import { type SecureKafkaListener, secureKafkaEnv } from '../../local/emulators/kafka/broker.ts';
import { startPipeline } from '../../local/emulators/pipeline.ts';
import { verifyFromTopic } from '../../tools/verify/verify.ts';
import { useSecureKafka } from '../helpers/kafka.ts';
import { appLogin, redisEnv, useSecureRedis } from '../helpers/redis.ts';

const execFileAsync = promisify(execFile);

// The suite's servers when it runs secure; servers of this file's own under SEQGUARD_PLAINTEXT=1.
const secureKafka = useSecureKafka();
const secureRedis = useSecureRedis();
let listener: SecureKafkaListener;

beforeAll(() => {
  listener = secureKafka().listener;
  // Every client here signs its MSK IAM tokens with the credentials the broker checks, from the
  // standard variables, as in a Lambda.
  vi.stubEnv('AWS_ACCESS_KEY_ID', listener.credentials.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', listener.credentials.secretAccessKey);
  vi.stubEnv('AWS_REGION', listener.credentials.region);
  vi.stubEnv('AWS_SESSION_TOKEN', undefined);
});

afterAll(() => {
  vi.unstubAllEnvs();
});

describe.each([
  ['a single redis-server', () => secureRedis().single],
  ['a 3-master cluster', () => secureRedis().cluster],
] as const)('the pipeline in production security shape, on %s', (_label, target) => {
  it('applies every event once, and check-drift, replay and verify agree over TLS and MSK IAM', async () => {
    // Prepare
    const redisTarget = target();
    const connection: KafkaConnection = {
      clientId: 'secure-test',
      bootstrapBrokers: [listener.bootstrap],
      mskIam: { region: listener.credentials.region },
      tlsCaPem: listener.caPem,
    };
    const topic = `secure-pipeline-${randomBytes(3).toString('hex')}`;
    const admin = createAdmin(connection);
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    await admin.close();
    const env: Record<string, string> = {
      ...redisEnv(redisTarget, secureRedis().secretsEnv),
      ...secureKafkaEnv(listener),
      SEQGUARD_FORMAT: 'mapped',
      SEQGUARD_KEY_PREFIX: `s${randomBytes(4).toString('hex')}`,
    };
    const sink = loadSinkConfig(env);
    const redis: RedisClient = createRedisClient({ ...sink.redis, ...appLogin(redisTarget) });
    const producer = createProducer({ ...connection, clientId: 'secure-producer' });
    const scores = new Map<string, number>();
    const events = Array.from({ length: 120 }, (_, i) => {
      const player = `p${i % 6}`;
      scores.set(player, (scores.get(player) ?? 0) + (i % 4) + 1);
      return {
        scope: player,
        value: { sequence_id: Math.floor(i / 6) + 1, player_id: player, delta: (i % 4) + 1 },
      };
    });
    const written = await publishEvents(producer, topic, [
      ...events,
      { scope: 'p0', value: 'not an event' },
    ]);
    await producer.close();
    const ends = new Map<number, bigint>();
    for (const w of written)
      if ((ends.get(w.partition) ?? -1n) < w.offset + 1n) ends.set(w.partition, w.offset + 1n);
    const groupId = `secure-${topic}`;

    try {
      // Act: the trigger and the function, then the operator tools.
      const pipeline = startPipeline({
        bootstrap: listener.bootstrap,
        function: { deployed: inject('deployedApplyEvents'), env },
        mapping: {
          security: { mskIam: connection.mskIam as { region: string }, tlsCaPem: listener.caPem },
          topics: [topic],
          groupId,
          batchSize: 50,
          batchWindowMs: 50,
        },
      });
      try {
        await pipeline.warmUp();
        await vi.waitFor(
          () => {
            const behind = [...ends].some(
              ([p, end]) =>
                pipeline.mapping.committed.get(topicPartition({ topic, partition: p })) !== end,
            );
            if (behind) throw new Error('the pipeline did not catch up');
          },
          { timeout: 90_000, interval: 50 },
        );
      } finally {
        await pipeline.stop();
      }
      const ports = createSinkPorts(redis, sink.guard);
      const report = await checkDrift(
        { kafka: connection, redis, ports, sink },
        {
          topics: [topic],
          consumerGroup: groupId,
          autoReplay: true,
          replayLimit: 10_000,
          maxStateEntries: 1_000_000,
        },
      );
      const again = await replay(
        connection,
        ports,
        sink,
        [0, 1].map((partition) => ({ topic, partition, from: 0n, to: ends.get(partition) ?? 0n })),
        10_000,
      );
      const verified = await verifyFromTopic({ connection, redis, topics: [topic], sink });
      // The operator CLI, from the functions' environment alone.
      const cli = await execFileAsync(process.execPath, ['tools/seqguard.ts', 'verify'], {
        env: { ...process.env, ...env, SEQGUARD_TOPICS: topic, SEQGUARD_CONSUMER_GROUP: groupId },
        timeout: 60_000,
      });

      // Assess
      const flat = await redis.zrange(
        stateKey('default', 'leaderboard', sink.guard.keyPrefix),
        '0',
        '-1',
        'WITHSCORES',
      );
      const board = new Map<string, number>();
      for (let i = 0; i < flat.length; i += 2) board.set(flat[i] as string, Number(flat[i + 1]));
      expect(board).toEqual(scores);
      expect([...(await deadLetterCounts(redis, sink.guard.keyPrefix, [topic])).values()]).toEqual([
        1,
      ]);
      expect(report.values).toMatchObject({
        consumerLagRecords: 0,
        redisBehindRecords: 0,
        appliedLagRecords: 0,
      });
      expect(again).toMatchObject({ failed: 0, summary: { applied: 0, duplicates: 120 } });
      expect(verified.complete).toBe(true);
      expect(verified.differences).toEqual([]);
      expect(cli.stdout).toMatch(/^OK: Redis agrees with the topic/m);
    } finally {
      redis.disconnect();
    }
  }, 240_000);
});
