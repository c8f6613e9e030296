import { Redis } from 'ioredis';
import { afterAll, inject } from 'vitest';
import { createRedisClient, type RedisClient } from '../../functions/shared/redis/client.ts';

/**
 * A seqguard client (scripts defined) and a plain client on the suite's standalone Redis, for a
 * test file; both are closed after the file's tests.
 */
export function suiteRedis(commandTimeoutMs = 5_000): { redis: RedisClient; raw: Redis } {
  const redis = createRedisClient({ url: inject('redisUrl'), cluster: false, commandTimeoutMs });
  const raw = new Redis(inject('redisUrl'));
  afterAll(() => {
    redis.disconnect();
    raw.disconnect();
  });
  return { redis, raw };
}
