/**
 * A Lambda handler module for the crash comparison: the peer's MSK handler
 * (bench/powertools-idempotency.ts: Powertools idempotency on Redis around each record's effect),
 * connected to Redis as the seqguard function is (REDIS_URL and the SEQGUARD_REDIS_* settings).
 *
 *   SEQGUARD_KEY_PREFIX          prefix of the state and stream keys
 *   TEST_IDEMPOTENCY_KEY_PREFIX  prefix of Powertools' idempotency records
 *   TEST_CRASH_AFTER_EFFECT_OF   an event id: the process kills itself (SIGKILL) right after that
 *                                event's effect, before Powertools marks its record COMPLETED
 */
import { createPowertoolsSink, powertoolsMskHandler } from '../../bench/powertools-idempotency.ts';
import { loadSinkConfig } from '../../core/config/config.ts';
import { withRedisAuthSecret } from '../../core/redis/auth-secret.ts';
import { createRedisClient } from '../../core/redis/client.ts';

const config = loadSinkConfig(process.env);
const redis = createRedisClient(await withRedisAuthSecret(config.redis));
const crashAfter = process.env.TEST_CRASH_AFTER_EFFECT_OF;

export const handler = powertoolsMskHandler(
  createPowertoolsSink({
    redis,
    keyPrefix: config.guard.keyPrefix,
    idempotencyKeyPrefix: process.env.TEST_IDEMPOTENCY_KEY_PREFIX ?? 'powertools',
    afterEffect(event) {
      if (event.id === crashAfter) process.kill(process.pid, 'SIGKILL');
    },
  }),
);
