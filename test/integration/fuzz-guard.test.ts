/**
 * The guard's fuzz target (tools/fuzz/targets/guard-differential.ts) over its seed corpus and
 * every saved finding, on the suite's redis-server: the Lua and the model agree on each
 * delivery. The other targets run in test/unit/tools/fuzz-targets.test.ts.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../core/redis/client.ts';
import { checkDelivery } from '../../tools/fuzz/targets/guard-differential.ts';
import { checkedInInputs } from '../../tools/fuzz/targets.ts';
import { projectClient, suiteTarget } from '../helpers/redis.ts';

let redis: RedisClient;

describe('fuzz target guard-differential', () => {
  beforeAll(() => {
    redis = projectClient(suiteTarget('single'), { commandTimeoutMs: 10_000 });
  });
  afterAll(() => redis.disconnect());

  it('has seeds and keeps its findings', () => {
    const labels = checkedInInputs('guard-differential').map(([label]) => label);
    expect(labels.filter((l) => l.startsWith('corpus/')).length).toBeGreaterThan(0);
    expect(labels).toContain('regressions/exact-running-total-beyond-2-53');
  });

  it.each(checkedInInputs('guard-differential'))('passes %s', async (_label, path) => {
    await checkDelivery(redis, readFileSync(path));
  });
});
