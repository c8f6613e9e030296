/**
 * Entry of the check-drift Lambda (EventBridge Scheduler, every minute). Configuration is read
 * and checked once, at cold start, with the Redis credentials from Secrets Manager if configured.
 */
import {
  createRedisClient,
  lazyKafkaConnection,
  loadDriftConfig,
  loadThresholds,
  withRedisAuthSecret,
} from '../../core/index.ts';

import { createCheckDriftHandler } from './create-handler.ts';

const config = loadDriftConfig(process.env);

export const handler = createCheckDriftHandler({
  config,
  thresholds: loadThresholds(process.env),
  redis: createRedisClient(await withRedisAuthSecret(config.sink.redis)),
  kafka: lazyKafkaConnection(config.kafka, 'seqguard-check-drift'),
});
