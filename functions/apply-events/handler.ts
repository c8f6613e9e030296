/**
 * Entry of the apply-events Lambda (Kafka event source mapping, ReportBatchItemFailures).
 * Configuration is read and checked once, at cold start, together with the Redis credentials
 * from Secrets Manager when SEQGUARD_REDIS_AUTH_SECRET_ARN is set; the Redis client is reused
 * across invocations.
 */
import { createRedisClient, loadSinkConfig, withRedisAuthSecret } from '../../core/index.ts';

import { createApplyEventsHandler } from './create-handler.ts';

const config = loadSinkConfig(process.env);

const redis = createRedisClient(await withRedisAuthSecret(config.redis));

export const handler = createApplyEventsHandler({ config, redis });
