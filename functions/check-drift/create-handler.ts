/**
 * The check-drift Lambda handler, composed: middy, Powertools Logger and Metrics (EMF) around
 * the drift check. Metrics go out in total (dimension Service) and per partition (dimensions
 * Topic and Partition); the alarms watch the totals.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import {
  alarmMetrics,
  checkDrift,
  createSinkPorts,
  type DriftConfig,
  type DriftReport,
  evaluateAlarms,
  type KafkaConnection,
  type RedisClient,
  type Thresholds,
  toPlainJson,
} from '../../core/index.ts';

export interface CheckDriftDependencies {
  config: DriftConfig;
  thresholds: Thresholds;
  redis: RedisClient;
  /** Resolved once: MSK's bootstrap brokers are looked up at the first invocation. */
  kafka: () => Promise<KafkaConnection>;
  logger?: Logger;
  metrics?: Metrics;
}

/** What an invocation keeps for itself after a repair: the metrics and the log line. */
const PUBLISH_MARGIN_MS = 15_000;

const unitOf = (metric: string) =>
  metric === 'TimeLagSeconds' ? MetricUnit.Seconds : MetricUnit.Count;

function publish(metrics: Metrics, report: DriftReport): void {
  for (const [name, metric] of Object.entries(alarmMetrics)) {
    metrics.addMetric(metric, unitOf(metric), report.values[name as keyof typeof alarmMetrics]);
  }
  if (report.replay) metrics.addMetric('ReplayedRecords', MetricUnit.Count, report.replay.records);
  for (const p of report.partitions) {
    const single = metrics.singleMetric();
    single.addDimensions({ Topic: p.topic, Partition: String(p.index) });
    single.addMetric('ConsumerLag', MetricUnit.Count, p.consumerLag);
    single.addMetric('AppliedLag', MetricUnit.Count, p.appliedLag);
    single.addMetric('TimeLagSeconds', MetricUnit.Seconds, p.timeLagSeconds);
    single.addMetric('CommitAheadOfApplied', MetricUnit.Count, p.commitAhead);
    single.addMetric(
      'RedisBehindKafka',
      MetricUnit.Count,
      p.behind.records + p.behind.beyondRetention,
    );
  }
}

export function createCheckDriftHandler({
  config,
  thresholds,
  redis,
  kafka,
  logger = new Logger({ serviceName: 'seqguard-check-drift' }),
  metrics = new Metrics({ namespace: config.sink.metricsNamespace, serviceName: 'check-drift' }),
}: CheckDriftDependencies) {
  const ports = createSinkPorts(redis, config.sink.guard);
  return middy()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async function checkDriftNow(_event: unknown, context: Context) {
      const report = await checkDrift(
        { kafka: await kafka(), redis, ports, sink: config.sink },
        {
          topics: config.topics,
          consumerGroup: config.consumerGroup,
          autoReplay: config.autoReplay,
          replayLimit: config.replayLimit,
          maxStateEntries: config.maxStateEntries,
          // Repair passes while the invocation has time, leaving enough to publish the metrics.
          repairBudgetMs: Math.max(0, context.getRemainingTimeInMillis() - PUBLISH_MARGIN_MS),
        },
      );
      publish(metrics, report);
      const alarms = evaluateAlarms(report.values, thresholds);
      const firing = Object.entries(alarms).flatMap(([name, state]) =>
        state === 'ALARM' ? [name] : [],
      );
      (firing.length > 0 ? logger.warn : logger.info).call(logger, 'drift checked', {
        values: report.values,
        firing,
        replayed: report.replay?.records ?? 0,
      });
      return toPlainJson(report);
    });
}
