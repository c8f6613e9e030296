/**
 * The replay Lambda handler, composed: middy with the Powertools Logger around the core's replay
 * (core/sink/replay.ts). It reads a partition's offset range, or every partition from a point in
 * time, and applies it again through the guard; one invocation handles at most `limit` records
 * and returns where to go on from.
 *
 *   {"topic": "game.events", "partition": 3, "from": "1200", "to": "1800"}
 *   {"topic": "game.events", "since": "2026-11-27T05:00:00Z", "limit": 50000}
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import {
  createSinkPorts,
  type DriftConfig,
  type KafkaConnection,
  parseReplayRequest,
  type RedisClient,
  rangesOf,
  replay,
  toPlainJson,
} from '../../core/index.ts';

export interface ReplayDependencies {
  config: DriftConfig;
  redis: RedisClient;
  /** Resolved once: MSK's bootstrap brokers are looked up at the first invocation. */
  kafka: () => Promise<KafkaConnection>;
  logger?: Logger;
}

export function createReplayHandler(dependencies: ReplayDependencies) {
  const { config, redis, kafka } = dependencies;
  const logger = dependencies.logger ?? new Logger({ serviceName: 'seqguard-replay' });
  const ports = createSinkPorts(redis, config.sink.guard);

  return middy()
    .use(injectLambdaContext(logger))
    .handler(async function replayRange(event: unknown) {
      const { request, limit } = parseReplayRequest(event);
      const connection = await kafka();
      const ranges = await rangesOf(connection, request);
      const result = await replay(
        connection,
        ports,
        config.sink,
        ranges,
        limit ?? config.replayLimit,
      );
      logger.info('replayed', {
        records: result.records,
        failed: result.failed,
        summary: result.summary,
      });
      return toPlainJson({ ...result, resumeAt: Object.fromEntries(result.resumeAt) });
    });
}
