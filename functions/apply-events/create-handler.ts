/**
 * The apply-events Lambda handler, composed: middy with Powertools Logger and Metrics (EMF)
 * around the sink core (core/sink/apply-records.ts), its ports bound to one Redis
 * client (core/sink/redis-ports.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { MSKEvent } from 'aws-lambda';
import {
  applyRecords,
  type BatchSummary,
  createSinkPorts,
  type KafkaBatchResponse,
  type KafkaConnection,
  lazyKafkaConnection,
  type RedisClient,
  RedisNewerLayoutError,
  type SinkConfig,
} from '../../core/index.ts';

export interface ApplyEventsDependencies {
  config: SinkConfig;
  redis: RedisClient;
  logger?: Logger;
  metrics?: Metrics;
}

function publish(metrics: Metrics, summary: BatchSummary, durationMs: number) {
  metrics.addMetric('RecordsReceived', MetricUnit.Count, summary.records);
  metrics.addMetric('EventsApplied', MetricUnit.Count, summary.applied);
  metrics.addMetric('EventsAppliedLate', MetricUnit.Count, summary.late);
  metrics.addMetric('GapsOpened', MetricUnit.Count, summary.gapsOpened);
  metrics.addMetric('EventsDuplicate', MetricUnit.Count, summary.duplicates);
  metrics.addMetric('EventsRefused', MetricUnit.Count, summary.refused);
  metrics.addMetric('RecordsDeadLettered', MetricUnit.Count, summary.deadLettered);
  metrics.addMetric('RecordsRetried', MetricUnit.Count, summary.retried);
  // Calls refused because Redis holds a layout newer than this code reads (docs/operations.md,
  // "Upgrading and rolling back"): their records are among the retried.
  const newer = summary.errors.filter((e) => e instanceof RedisNewerLayoutError).length;
  metrics.addMetric('NewerLayoutRefusals', MetricUnit.Count, newer);
  metrics.addMetric('BatchDuration', MetricUnit.Milliseconds, durationMs);
}

/** The Kafka connection of a sink configured with one, for the ledger's holes. */
export function sinkKafka(config: SinkConfig): (() => Promise<KafkaConnection>) | undefined {
  return config.kafka ? lazyKafkaConnection(config.kafka, 'seqguard-apply-events') : undefined;
}

export function createApplyEventsHandler({
  config,
  redis,
  logger = new Logger({ serviceName: 'seqguard-apply-events' }),
  metrics = new Metrics({ namespace: config.metricsNamespace, serviceName: 'apply-events' }),
}: ApplyEventsDependencies) {
  const ports = createSinkPorts(redis, config.guard, sinkKafka(config));
  const options = {
    decode: config.decode,
    chunkSize: config.chunkSize,
    shardConcurrency: config.shardConcurrency,
  };

  return middy<MSKEvent, KafkaBatchResponse>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async function applyEvents(event) {
      const started = performance.now();
      const { response, summary } = await applyRecords(event, ports, options);
      publish(metrics, summary, performance.now() - started);
      for (const error of summary.errors) logger.error('records will be retried', { error });
      const { errors, ...counts } = summary;
      logger.info('batch applied', { ...counts });
      return response;
    });
}
