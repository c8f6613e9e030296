/**
 * Integer identifiers beyond 2^53 through the whole apply-events path, on a real Redis: the
 * exact digits an event carries are the cursor field and the member Redis holds (DESIGN, "Event
 * contract": integer identifiers are accepted as their exact decimal text).
 */
import { randomBytes } from 'node:crypto';
import type { MSKEvent } from 'aws-lambda';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { deadLetterKeys, shardKeys, stateKey } from '../../core/layout/keys.ts';
import { createRedisClient, type RedisClient } from '../../core/redis/client.ts';
import { mskEvent, mskRecord } from '../helpers/events.ts';
import { lambdaContext, quietApplyEventsHandler } from '../helpers/lambda.ts';
import { appLogin, rawRedis, redisEnv, suiteTarget } from '../helpers/redis.ts';

const clients: RedisClient[] = [];
const prefixes: string[] = [];
let raw: Redis;
/** The clean-up's KEYS is for operators only (-@dangerous). */
let admin: Redis;
beforeAll(() => {
  raw = rawRedis(suiteTarget());
  admin = rawRedis(suiteTarget(), 'admin');
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  for (const prefix of prefixes.splice(0)) {
    const keys = await admin.keys(`*${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
  }
});
afterAll(() => {
  raw.disconnect();
  admin.disconnect();
});

/** A handler on its own random key prefix. */
function sink(env: Record<string, string> = {}) {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  const config = loadSinkConfig({
    ...redisEnv(),
    SEQGUARD_KEY_PREFIX: prefix,
    ...env,
  });
  const redis = createRedisClient({
    ...config.redis,
    ...appLogin(suiteTarget()),
    commandTimeoutMs: 500,
  });
  clients.push(redis);
  const { handler } = quietApplyEventsHandler(config, redis);
  const invoke = (event: MSKEvent) => handler(structuredClone(event), lambdaContext());
  return { invoke, prefix };
}

describe('apply-events handler with integer identifiers beyond 2^53', () => {
  it('applies an envelope event under the exact digits of its scope and member, once', async () => {
    // Prepare: raw JSON texts, since JSON.stringify cannot write these numbers.
    const { invoke, prefix } = sink();
    const scope = '12345678901234567890';
    const member = '98765432109876543211';
    const event = mskEvent([
      mskRecord({
        offset: 0,
        key: null,
        value: `{"scope":${scope},"seq":1,"shard":"lb","type":"zincrby","data":{"key":"weekly","member":${member},"delta":5}}`,
      }),
      mskRecord({
        offset: 1,
        key: null,
        value: `{"scope":${scope},"seq":2,"shard":"lb","type":"zincrby","data":{"key":"weekly","member":${member},"delta":2}}`,
      }),
    ]);
    // Act
    const first = await invoke(event);
    const again = await invoke(event);
    // Assess
    expect(first).toEqual({ batchItemFailures: [] });
    expect(again).toEqual({ batchItemFailures: [] });
    expect(await raw.hgetall(shardKeys('lb', prefix).cursors)).toEqual({ [`s:${scope}`]: '2' });
    expect(await raw.zrange(stateKey('lb', 'weekly', prefix), '0', '-1', 'WITHSCORES')).toEqual([
      member,
      '7',
    ]);
    expect(await raw.xlen(deadLetterKeys(prefix).stream)).toBe(0);
  });

  it("applies the seed format's numeric player_id to that exact member", async () => {
    // Prepare
    const { invoke, prefix } = sink({ SEQGUARD_FORMAT: 'mapped', SEQGUARD_DEFAULT_SHARD: 'game' });
    const event = mskEvent([
      mskRecord({
        offset: 0,
        key: '90071992547409931',
        value: '{"sequence_id": 1, "player_id": 90071992547409931, "delta": 5}',
      }),
      mskRecord({
        offset: 1,
        key: '90071992547409931',
        value: '{"sequence_id": 2, "player_id": 90071992547409931, "delta": 1.5}',
      }),
    ]);
    // Act
    const result = await invoke(event);
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(
      await raw.zrange(stateKey('game', 'leaderboard', prefix), '0', '-1', 'WITHSCORES'),
    ).toEqual(['90071992547409931', '6.5']);
    expect(await raw.hgetall(shardKeys('game', prefix).cursors)).toEqual({
      's:90071992547409931': '2',
    });
    expect(await raw.xlen(deadLetterKeys(prefix).stream)).toBe(0);
  });

  it('dead-letters a player_id that is no integer, with the reason', async () => {
    // Prepare
    const { invoke, prefix } = sink({ SEQGUARD_FORMAT: 'mapped', SEQGUARD_DEFAULT_SHARD: 'game' });
    const event = mskEvent([
      mskRecord({ offset: 0, key: 'p', value: '{"sequence_id": 1, "player_id": 1.5, "delta": 5}' }),
    ]);
    // Act
    const result = await invoke(event);
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    const letters = await raw.xrange(deadLetterKeys(prefix).stream, '-', '+');
    expect(letters).toHaveLength(1);
    expect(letters[0]?.[1]).toContain('schema: player_id: must be a string or an integer');
    expect(await raw.exists(stateKey('game', 'leaderboard', prefix))).toBe(0);
  });
});
