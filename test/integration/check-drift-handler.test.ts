/**
 * The check-drift Lambda handler as composed for AWS: its metrics (EMF) and its returned
 * report, on the suite's Kafka and Redis.
 */
import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { loadDriftConfig } from '../../core/config/config.ts';
import { defaultThresholds } from '../../core/config/thresholds.ts';
import { lazyKafkaConnection } from '../../core/kafka/location.ts';
import { createCheckDriftHandler } from '../../functions/check-drift/create-handler.ts';
import { createTopic, produce, suiteKafkaEnv, uniqueTopic } from '../helpers/kafka.ts';
import { captureEmf, lambdaContext } from '../helpers/lambda.ts';
import { coldStartClient, redisEnv } from '../helpers/redis.ts';

describe('check-drift handler', () => {
  it('publishes every alarm metric in total and per partition, and returns the report as JSON', async () => {
    // Prepare: a topic with records nobody consumed.
    const topic = uniqueTopic('drift-handler');
    await createTopic(topic, 2);
    await produce(topic, [
      { partition: 0, value: '{}' },
      { partition: 0, value: '{}' },
      { partition: 1, value: '{}' },
    ]);
    // Redis and Kafka as the deployed function reaches them, from its environment alone.
    const config = loadDriftConfig({
      ...redisEnv(),
      ...suiteKafkaEnv(),
      SEQGUARD_KEY_PREFIX: `h${randomBytes(4).toString('hex')}`,
      SEQGUARD_TOPICS: topic,
      SEQGUARD_CONSUMER_GROUP: `never-${topic}`,
    });
    const redis = await coldStartClient({ ...config.sink.redis, commandTimeoutMs: 2_000 });
    onTestFinished(() => redis.disconnect());
    const metrics = new Metrics({ namespace: 'seqguard', serviceName: 'check-drift' });
    const added = vi.spyOn(metrics, 'addMetric');
    vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
    const handler = createCheckDriftHandler({
      config,
      thresholds: defaultThresholds,
      redis,
      kafka: lazyKafkaConnection(config.kafka, 'test'),
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

  // A deployment's metrics go to its own namespace, its prefix, where its alarms read them
  // (CloudWatch user guide, "Namespaces",
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Namespace).
  it('publishes its totals and per-partition metrics in the namespace SEQGUARD_METRICS_NAMESPACE names', async () => {
    // Prepare: the handler as handler.ts builds it, with its own Metrics.
    const topic = uniqueTopic('drift-namespace');
    await createTopic(topic, 1);
    await produce(topic, [{ partition: 0, value: '{}' }]);
    const config = loadDriftConfig({
      ...redisEnv(),
      ...suiteKafkaEnv(),
      SEQGUARD_KEY_PREFIX: `h${randomBytes(4).toString('hex')}`,
      SEQGUARD_TOPICS: topic,
      SEQGUARD_CONSUMER_GROUP: `never-${topic}`,
      SEQGUARD_METRICS_NAMESPACE: 'shop',
    });
    const redis = await coldStartClient({ ...config.sink.redis, commandTimeoutMs: 2_000 });
    onTestFinished(() => redis.disconnect());
    const handler = createCheckDriftHandler({
      config,
      thresholds: defaultThresholds,
      redis,
      kafka: lazyKafkaConnection(config.kafka, 'test'),
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    const emf = captureEmf();
    onTestFinished(emf.restore);
    // Act
    await handler({}, lambdaContext('shop-check-drift'));
    emf.restore();
    // Assess: the totals (service) and the one partition's line, all in shop.
    const documents = emf.documents();
    expect(documents.filter((d) => 'OpenGaps' in d)).toHaveLength(1);
    expect(documents.filter((d) => d.Partition === '0')).toHaveLength(1);
    const namespaces = documents.flatMap((d) => d._aws.CloudWatchMetrics.map((m) => m.Namespace));
    expect(new Set(namespaces)).toEqual(new Set(['shop']));
  });
});
