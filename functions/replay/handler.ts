/**
 * Entry of the replay Lambda, invoked on demand (or by an operator from the console/CLI):
 * reads a partition's offset range, or every partition from a point in time, and applies it
 * again through the guard. One invocation handles at most `limit` records and returns where to
 * go on from.
 *
 *   {"topic": "game.events", "partition": 3, "from": "1200", "to": "1800"}
 *   {"topic": "game.events", "since": "2026-11-27T05:00:00Z", "limit": 50000}
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { loadDriftConfig } from '../shared/config.ts';
import { toPlainJson } from '../shared/json.ts';
import { lazyKafkaConnection } from '../shared/kafka/connection.ts';
import { withRedisAuthSecret } from '../shared/redis/auth-secret.ts';
import { createRedisClient } from '../shared/redis/client.ts';
import { createSinkPorts } from '../shared/sink/redis-ports.ts';
import { parseReplayRequest, rangesOf, replay } from '../shared/sink/replay.ts';

const config = loadDriftConfig(process.env);
// Redis credentials come from Secrets Manager when SEQGUARD_REDIS_AUTH_SECRET_ARN is set.
const redis = createRedisClient(await withRedisAuthSecret(config.sink.redis));
const kafka = lazyKafkaConnection(config.kafka, 'seqguard-replay');
const ports = createSinkPorts(redis, config.sink.guard);
const logger = new Logger({ serviceName: 'seqguard-replay' });

export const handler = middy()
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
