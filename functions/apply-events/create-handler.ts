/**
 * The apply-events Lambda handler, composed: middy with Powertools Logger and Metrics (EMF)
 * around the core, its ports bound to one Redis client.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { MSKEvent } from 'aws-lambda';
import type { SinkConfig } from '../shared/config.ts';
import type { KafkaBatchResponse } from '../shared/kafka/batch-response.ts';
import {
  type KafkaConnection,
  lazyKafkaConnection,
  withAdmin,
} from '../shared/kafka/connection.ts';
import { partitionRanges } from '../shared/kafka/offsets.ts';
import { readRecords } from '../shared/kafka/read-records.ts';
import { applyChunk } from '../shared/redis/apply-batch.ts';
import type { RedisClient } from '../shared/redis/client.ts';
import { appendDeadLetters } from '../shared/redis/dead-letter.ts';
import { shardRegistryKey } from '../shared/redis/keys.ts';
import { advanceLedger, readLedgers } from '../shared/redis/ledger.ts';
import { writeAcknowledged } from '../shared/redis/replica-wait.ts';
import {
  applyRecords,
  type BatchSummary,
  type LedgerPort,
  type SinkPorts,
} from './apply-records.ts';

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
  metrics.addMetric('RecordsDeadLettered', MetricUnit.Count, summary.deadLettered);
  metrics.addMetric('RecordsRetried', MetricUnit.Count, summary.retried);
  metrics.addMetric('BatchDuration', MetricUnit.Milliseconds, durationMs);
}

/**
 * Whether the log holds a record of the partition in [from, to), clipped to what the log still
 * holds: one record is enough.
 */
async function hasRecords(
  connection: KafkaConnection,
  { topic, partition }: { topic: string; partition: number },
  from: bigint,
  to: bigint,
): Promise<boolean> {
  const range = await withAdmin(connection, async (admin) =>
    (await partitionRanges(admin, [topic])).find((r) => r.partition === partition),
  );
  if (!range) return false;
  const start = from > range.earliest ? from : range.earliest;
  const end = to < range.end ? to : range.end;
  if (start >= end) return false;
  const records = await readRecords(connection, [{ topic, partition, from: start, to: end }], {
    perRange: 1,
    idleMs: 1_000,
    timeoutMs: 10_000,
  });
  return records.length > 0;
}

/**
 * The core's ports bound to one Redis (and, for the ledger's holes, to Kafka when the sink may
 * read it). Every shard written to is also entered, once per process, in the shard registry,
 * which lets the drift check notice a shard whose keys vanished. With `guard.replicaWait`, each
 * of these writes waits for its replicas before it counts as done.
 */
export function createSinkPorts(
  redis: RedisClient,
  guard: SinkConfig['guard'],
  kafka?: () => Promise<KafkaConnection>,
): SinkPorts {
  const registered = new Set<string>();
  const ledger: LedgerPort = {
    read: async (partition) =>
      (await readLedgers(redis, [partition], guard.keyPrefix)).get(partition),
    advance: (partition, advance) =>
      advanceLedger(redis, partition, advance, guard.keyPrefix, guard.replicaWait),
    ...(kafka
      ? {
          hasRecords: async (partition, from, to) => hasRecords(await kafka(), partition, from, to),
        }
      : {}),
  };
  return {
    async applyChunk(shard, events, expected) {
      const outcomes = await applyChunk(redis, shard, events, guard, expected);
      if (!registered.has(shard)) {
        await writeAcknowledged(redis, guard.replicaWait, (c) =>
          c.sadd(shardRegistryKey(guard.keyPrefix), shard),
        );
        registered.add(shard);
      }
      return outcomes;
    },
    appendDeadLetters: (letters, expected) =>
      appendDeadLetters(redis, letters, guard.keyPrefix, expected, guard.replicaWait),
    ledger,
  };
}

/** The Kafka connection of a sink configured with one, for the ledger's holes. */
export function sinkKafka(config: SinkConfig): (() => Promise<KafkaConnection>) | undefined {
  return config.kafka ? lazyKafkaConnection(config.kafka, 'seqguard-apply-events') : undefined;
}

export function createApplyEventsHandler({
  config,
  redis,
  logger = new Logger({ serviceName: 'seqguard-apply-events' }),
  metrics = new Metrics({ namespace: 'seqguard', serviceName: 'apply-events' }),
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
