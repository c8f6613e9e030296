import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SequenceUnavailableError } from '../../core/errors.ts';
import { producerSeqKey } from '../../core/layout/keys.ts';
import { redisSequenceSource } from '../../core/producer/sequencer.ts';
import { rawRedis, suiteTarget } from '../helpers/redis.ts';

let redis: Redis;
/** The clean-up's KEYS is for operators only (-@dangerous). */
let admin: Redis;
const keyPrefix = `test-${randomUUID().slice(0, 8)}`;

beforeAll(() => {
  redis = rawRedis(suiteTarget());
  admin = rawRedis(suiteTarget(), 'admin');
});
afterAll(async () => {
  const keys = await admin.keys(`{${keyPrefix}~seq:*`);
  if (keys.length > 0) await admin.del(...keys);
  redis.disconnect();
  admin.disconnect();
});

describe('redisSequenceSource()', () => {
  it('counts each scope on its own from 1, in one key per scope', async () => {
    // Prepare
    const source = redisSequenceSource(redis, { keyPrefix });
    // Act
    const seqs = [
      await source.next('a'),
      await source.next('b'),
      await source.next('a'),
      await source.next('a'),
    ];
    // Assess
    expect(seqs).toEqual([1n, 1n, 2n, 3n]);
    expect(await redis.get(producerSeqKey('a', keyPrefix))).toBe('3');
  });

  it('hands out no seq twice to producers that draw at the same time', async () => {
    // Prepare
    const producers = [
      redisSequenceSource(redis, { keyPrefix }),
      redisSequenceSource(redis, { keyPrefix }),
    ];
    // Act
    const seqs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => producers[i % 2]?.next('shared') ?? 0n),
    );
    // Assess
    expect(seqs.toSorted((a, b) => (a < b ? -1 : 1))).toEqual(
      Array.from({ length: 100 }, (_, i) => BigInt(i + 1)),
    );
  });

  it('continues across restarts, and offsets by firstSeq as an exact bigint', async () => {
    // Prepare
    await redisSequenceSource(redis, { keyPrefix }).next('restart');
    const restarted = redisSequenceSource(redis, { keyPrefix, firstSeq: 9_007_199_254_740_993n });
    // Act
    const seq = await restarted.next('restart');
    // Assess
    expect(seq).toBe(9_007_199_254_740_994n);
  });

  it('fails with SequenceUnavailableError, and its cause, when Redis refuses', async () => {
    // Prepare
    await redis.set(producerSeqKey('not-a-counter', keyPrefix), 'text');
    const source = redisSequenceSource(redis, { keyPrefix });
    // Act
    const failure = await source.next('not-a-counter').catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(SequenceUnavailableError);
    expect((failure as Error).cause).toBeInstanceOf(Error);
  });
});
