/**
 * A Lambda handler module for the crash comparison: the real apply-events handler, composed as
 * functions/apply-events/handler.ts composes it, whose Redis client kills the process (SIGKILL)
 * when the guard's EVALSHA has replied, with TEST_CRASH_AFTER_APPLY_BATCH=1: the chunk is applied
 * and nothing after it happens (no shard registry, no ledger advance, no batch response).
 */

import { loadSinkConfig } from '../../core/config/config.ts';
import { withRedisAuthSecret } from '../../core/redis/auth-secret.ts';
import { createRedisClient } from '../../core/redis/client.ts';
import { createApplyEventsHandler } from '../../functions/apply-events/create-handler.ts';

const config = loadSinkConfig(process.env);
const redis = createRedisClient(await withRedisAuthSecret(config.redis));

if (process.env.TEST_CRASH_AFTER_APPLY_BATCH === '1') {
  const applyBatch = redis.applyBatch.bind(redis);
  redis.applyBatch = async function applyBatchThenCrash(...args: Parameters<typeof applyBatch>) {
    const statuses = await applyBatch(...args);
    process.kill(process.pid, 'SIGKILL');
    return statuses;
  } as typeof redis.applyBatch;
}

export const handler = createApplyEventsHandler({ config, redis });
