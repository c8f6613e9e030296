/**
 * The check-drift Lambda handler as composed for AWS: its metrics (EMF) and its returned
 * report, on the suite's Kafka and Redis.
 */
import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { createCheckDriftHandler } from '../../functions/check-drift/create-handler.ts';
import { loadDriftConfig } from '../../functions/shared/config.ts';
import { createRedisClient } from '../../functions/shared/redis/client.ts';
import { defaultThresholds } from '../../functions/shared/thresholds.ts';
import { createTopic, produce, uniqueTopic } from '../helpers/kafka.ts';
import { lambdaContext } from '../helpers/lambda.ts';

const redis = createRedisClient({
  url: inject('redisUrl'),
  cluster: false,
  commandTimeoutMs: 2_000,
});
afterAll(() => redis.disconnect());

describe('check-drift handler', () => {
  it('publishes every alarm metric in total and per partition, and returns the report as JSON', async () => {
    // Prepare: a topic with records nobody consumed.
    const topic = uniqueTopic('drift-handler');
    await createTopic(inject('kafkaBootstrap'), topic, 2);
    await produce(inject('kafkaBootstrap'), topic, [
      { partition: 0, value: '{}' },
      { partition: 0, value: '{}' },
      { partition: 1, value: '{}' },
    ]);
    const config = loadDriftConfig({
      REDIS_URL: inject('redisUrl'),
      SEQGUARD_KEY_PREFIX: `h${randomBytes(4).toString('hex')}`,
      SEQGUARD_TOPICS: topic,
      SEQGUARD_CONSUMER_GROUP: `never-${topic}`,
      SEQGUARD_KAFKA_BOOTSTRAP: inject('kafkaBootstrap'),
    });
    const metrics = new Metrics({ namespace: 'seqguard', serviceName: 'check-drift' });
    const added = vi.spyOn(metrics, 'addMetric');
    vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
    const handler = createCheckDriftHandler({
      config,
      thresholds: defaultThresholds,
      redis,
      kafka: async () => ({ bootstrapBrokers: [inject('kafkaBootstrap')], clientId: 'test' }),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics,
    });
    // Act
    const report = (await handler({}, lambdaContext('seqguard-check-drift'))) as Record<
      string,
      never
    >;
    // Assess
    const names = added.mock.calls.map(([name]) => name);
    for (const metric of [
      'ConsumerLag',
      'AppliedLag',
      'TimeLagSeconds',
      'CommitAheadOfApplied',
      'OpenGaps',
      'DeadLetterDepth',
      'StateDriftKeys',
      'VanishedShards',
    ]) {
      expect(names).toContain(metric);
    }
    expect(added.mock.calls.find(([name]) => name === 'ConsumerLag')?.[2]).toBe(3);
    expect(report).toMatchObject({
      values: { consumerLagRecords: 3, appliedLagRecords: 3, commitAheadRecords: 0 },
      partitions: [
        { partition: `${topic}-0`, end: '2', consumerLag: 2 },
        { partition: `${topic}-1`, end: '1', consumerLag: 1 },
      ],
    });
  });
});
