/**
 * What check-drift, replay and the operator CLI open at cold start, from the functions'
 * environment: their configuration, checked at once; the Redis client, with the password from
 * Secrets Manager when SEQGUARD_REDIS_AUTH_SECRET_ARN is set; and a lazy Kafka connection (MSK's
 * bootstrap brokers are looked up at first use).
 */
import { type ConfigCode, type DriftConfig, loadDriftConfig } from '../config/config.ts';
import type { KafkaConnection } from '../kafka/connection.ts';
import { lazyKafkaConnection } from '../kafka/location.ts';
import { withRedisAuthSecret } from '../redis/auth-secret.ts';
import { createRedisClient, type RedisClient } from '../redis/client.ts';

export interface DriftConnections {
  config: DriftConfig;
  redis: RedisClient;
  kafka: () => Promise<KafkaConnection>;
}

export async function openDriftConnections(
  env: Record<string, string | undefined>,
  clientId: string,
  code: ConfigCode = {},
): Promise<DriftConnections> {
  const config = loadDriftConfig(env, code);
  return {
    config,
    redis: createRedisClient(await withRedisAuthSecret(config.sink.redis)),
    kafka: lazyKafkaConnection(config.kafka, clientId),
  };
}
