/**
 * The Lambda entry module: configuration read once at import (the cold start), clear errors.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../core/errors.ts';
import { stateKey } from '../../core/layout/keys.ts';
import { lambdaContext, loadEvent } from '../helpers/lambda.ts';
import { handledBefore } from '../helpers/ledger.ts';
import { rawRedis, redisEnv, suiteTarget } from '../helpers/redis.ts';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('functions/apply-events/handler.ts', () => {
  it('fails its cold start with every configuration problem named', async () => {
    vi.stubEnv('REDIS_URL', '');
    vi.stubEnv('SEQGUARD_FORMAT', 'protobuf');
    const loading = import('../../functions/apply-events/handler.ts');
    await expect(loading).rejects.toBeInstanceOf(ConfigError);
    await expect(loading).rejects.toThrow(/REDIS_URL[\s\S]*SEQGUARD_FORMAT/);
  });

  it('applies an MSK event with the configuration from the environment', async () => {
    const prefix = `e${randomBytes(4).toString('hex')}`;
    // The suite's Redis as a function reaches it: when secure, its cold start reads the
    // password from the Secrets Manager API.
    for (const [name, value] of Object.entries(redisEnv())) vi.stubEnv(name, value);
    vi.stubEnv('SEQGUARD_KEY_PREFIX', prefix);
    vi.stubEnv('SEQGUARD_FORMAT', 'mapped');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const { handler } = await import('../../functions/apply-events/handler.ts');
    const raw = rawRedis(suiteTarget());
    const event = await loadEvent('msk-seed-format');
    await handledBefore(raw, prefix, event);

    const response = await handler(event, lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    try {
      expect(await raw.zscore(stateKey('default', 'leaderboard', prefix), 'p-1')).toBe('15');
    } finally {
      raw.disconnect();
    }
  });
});
