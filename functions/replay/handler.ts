/**
 * Entry of the replay Lambda, invoked on demand (or by an operator from the console or the CLI).
 * Configuration is read and checked once, at cold start, with the Redis credentials from Secrets
 * Manager when SEQGUARD_REDIS_AUTH_SECRET_ARN is set.
 */
import {
  createRedisClient,
  lazyKafkaConnection,
  loadDriftConfig,
  withRedisAuthSecret,
} from '../../core/index.ts';

import { createReplayHandler } from './create-handler.ts';

const config = loadDriftConfig(process.env);

export const handler = createReplayHandler({
  config,
  redis: createRedisClient(await withRedisAuthSecret(config.sink.redis)),
  kafka: lazyKafkaConnection(config.kafka, 'seqguard-replay'),
});
