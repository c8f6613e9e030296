/**
 * What the sink does with a partition's first batch (docs/operations.md, "A partition's first
 * batch"), on a real broker and a real redis-server, with and without Kafka access, for a
 * trigger starting at TRIM_HORIZON (on a whole log, and on one whose start retention deleted)
 * and at LATEST on a topic that already holds records.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { checkDrift } from '../../core/drift/check-drift.ts';
import { createAdmin, withAdmin } from '../../core/kafka/connection.ts';
import { triggerGroupId } from '../../core/kafka/consumer-groups.ts';
import { partitionLedgerKey, stateKey } from '../../core/layout/keys.ts';
import { createRedisClient, type RedisClient } from '../../core/redis/client.ts';
import { readLedgers } from '../../core/redis/ledger.ts';
import { createSinkPorts } from '../../core/sink/redis-ports.ts';
import { mskEvent, mskRecord } from '../helpers/events.ts';
import { createTopic, produce, suiteKafka, suiteKafkaEnv, uniqueTopic } from '../helpers/kafka.ts';
import { lambdaContext, quietApplyEventsHandler } from '../helpers/lambda.ts';
import { appLogin, redisEnv, suiteTarget } from '../helpers/redis.ts';

const clients: RedisClient[] = [];
afterAll(() => {
  for (const client of clients) client.disconnect();
});

/** Twelve records of the seed format at offsets 0..11 of partition 0; `deleteBefore` trims the log. */
async function topicWithRecords(deleteBefore = 0n): Promise<string> {
  const topic = uniqueTopic('first');
  await createTopic(topic, 1);
  const value = (i: number) => JSON.stringify({ player_id: `p${i % 3}`, delta: 1 });
  await produce(
    topic,
    Array.from({ length: 12 }, (_, i) => ({ partition: 0, key: `p${i % 3}`, value: value(i) })),
  );
  if (deleteBefore > 0n) {
    const admin = createAdmin(suiteKafka('first-batch-admin'));
    try {
      await admin.deleteRecords({
        topics: [{ name: topic, partitions: [{ partition: 0, offset: deleteBefore }] }],
      });
    } finally {
      await admin.close();
    }
  }
  return topic;
}

/** apply-events on a fresh key prefix, reading the log (as deployed) or not. */
function sink(kafkaAccess: boolean) {
  const prefix = `f${randomBytes(4).toString('hex')}`;
  const config = loadSinkConfig({
    ...redisEnv(suiteTarget()),
    ...(kafkaAccess ? suiteKafkaEnv() : {}),
    SEQGUARD_KEY_PREFIX: prefix,
    SEQGUARD_FORMAT: 'mapped',
    SEQGUARD_DEFAULT_SHARD: 'game',
  });
  const redis = createRedisClient({ ...config.redis, ...appLogin(suiteTarget()) });
  clients.push(redis);
  const { handler } = quietApplyEventsHandler(config, redis);
  /** The first batch the trigger would send: offsets `from`..`to` - 1 of the topic. */
  const firstBatch = async (topic: string, from: number, to: number) => {
    const records = Array.from({ length: to - from }, (_, i) =>
      mskRecord({
        topic,
        partition: 0,
        offset: from + i,
        key: `p${(from + i) % 3}`,
        value: { player_id: `p${(from + i) % 3}`, delta: 1 },
      }),
    );
    const response = await handler(mskEvent(records), lambdaContext());
    const ledger = (await readLedgers(redis, [`${topic}-0`], prefix)).get(`${topic}-0`);
    return { failed: response.batchItemFailures.length, ledger };
  };
  /**
   * What follows a refused first batch: the trigger retries it, gives up on it (its on-failure
   * topic) and commits past it; check-drift then finds the group's commits with no ledger and
   * replays the log up to them through the guard, beginning the run.
   */
  const triggerGivesUpThenCheckDrift = async (topic: string) => {
    const group = `first-${topic}`;
    await withAdmin(suiteKafka('first-batch-trigger'), (admin) =>
      admin.alterConsumerGroupOffsets({
        groupId: triggerGroupId(group, topic),
        topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 12n }] }],
      }),
    );
    const report = await checkDrift(
      {
        kafka: suiteKafka('first-batch-drift'),
        redis,
        ports: createSinkPorts(redis, config.guard),
        sink: config,
      },
      {
        topics: [topic],
        consumerGroup: group,
        autoReplay: true,
        replayLimit: 1_000,
        maxStateEntries: 1_000,
      },
    );
    const ledger = (await readLedgers(redis, [`${topic}-0`], prefix)).get(`${topic}-0`);
    const board = await redis.zrange(stateKey('game', 'leaderboard', prefix), 0, -1, 'WITHSCORES');
    let total = 0;
    for (let i = 1; i < board.length; i += 2) total += Number(board[i]);
    return { behind: report.values.redisBehindRecords, ledger, total };
  };
  return { firstBatch, triggerGivesUpThenCheckDrift, prefix, redis };
}

describe("a partition's first batch", () => {
  it.each([true, false])(
    'TRIM_HORIZON on a whole log: applied, the run begins at 0 (Kafka access: %s)',
    async (kafkaAccess) => {
      const topic = await topicWithRecords();
      const { firstBatch } = sink(kafkaAccess);
      const first = await firstBatch(topic, 0, 5);
      expect(first.failed).toBe(0);
      expect(first.ledger).toMatchObject({ start: 0n, through: 4n });
    },
  );

  it('TRIM_HORIZON after retention deleted the log start, with Kafka access: applied, as the log holds nothing before it', async () => {
    const topic = await topicWithRecords(5n);
    const { firstBatch } = sink(true);
    const first = await firstBatch(topic, 5, 10);
    expect(first.failed).toBe(0);
    expect(first.ledger).toMatchObject({ start: 0n, through: 9n });
  });

  it('TRIM_HORIZON after retention deleted the log start, without Kafka access: refused until check-drift begins the run', async () => {
    const topic = await topicWithRecords(5n);
    const { firstBatch, triggerGivesUpThenCheckDrift, redis, prefix } = sink(false);
    const first = await firstBatch(topic, 5, 10);
    expect(first.failed).toBe(5);
    expect(await redis.exists(partitionLedgerKey(`${topic}-0`, prefix))).toBe(0);
    const after = await triggerGivesUpThenCheckDrift(topic);
    expect(after.behind).toBe(7);
    expect(after.ledger).toMatchObject({ start: 5n, through: 11n });
    expect(after.total).toBe(7);
  });

  it.each([true, false])(
    'LATEST on a topic that holds records: refused, the records before it are check-drift’s to replay (Kafka access: %s)',
    async (kafkaAccess) => {
      const topic = await topicWithRecords();
      const { firstBatch, triggerGivesUpThenCheckDrift, redis, prefix } = sink(kafkaAccess);
      const first = await firstBatch(topic, 10, 12);
      expect(first.failed).toBe(2);
      expect(await redis.exists(partitionLedgerKey(`${topic}-0`, prefix))).toBe(0);
      // Every record of the topic is applied in the end, those before the trigger's start too.
      const after = await triggerGivesUpThenCheckDrift(topic);
      expect(after.behind).toBe(12);
      expect(after.ledger).toMatchObject({ start: 0n, through: 11n });
      expect(after.total).toBe(12);
    },
  );
});
