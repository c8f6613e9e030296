/**
 * Entry of the apply-events Lambda (Kafka event source mapping, ReportBatchItemFailures).
 * Configuration is read and checked once, at cold start; the Redis client is reused across
 * invocations.
 */
import { loadSinkConfig } from '../shared/config.ts';
import { createRedisClient } from '../shared/redis/client.ts';
import { createApplyEventsHandler } from './create-handler.ts';

const config = loadSinkConfig(process.env);

export const handler = createApplyEventsHandler({ config, redis: createRedisClient(config.redis) });
