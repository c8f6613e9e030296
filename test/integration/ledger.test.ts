/**
 * The partition ledger and the checks against it, on a real redis-server: what
 * lua/advanceLedger-1.lua records, and the guard and the dead letters refusing to write when
 * they hold less than the ledger says was written to them (their node lost writes).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RedisBehindError } from '../../core/errors.ts';
import type { GuardedEvent } from '../../core/events/types.ts';
import { partitionLedgerKey, shardKeys } from '../../core/layout/keys.ts';
import { applyChunk } from '../../core/redis/apply-batch.ts';
import { appendDeadLetters } from '../../core/redis/dead-letter.ts';
import { advanceLedger, readLedgers } from '../../core/redis/ledger.ts';
import { mskRecord, mutation } from '../helpers/events.ts';
import { suiteRedis } from '../helpers/redis.ts';

const { redis, raw } = suiteRedis();
const fresh = () => `l${randomBytes(4).toString('hex')}`;
const tp = 'events-0';
const none = new Map<string, bigint>();

async function ledgerOf(prefix: string) {
  return (await readLedgers(redis, [tp], prefix)).get(tp);
}

describe('advanceLedger()', () => {
  it('begins a run where the first batch starts, and extends it with batches that join it', async () => {
    const prefix = fresh();
    expect(
      await advanceLedger(
        redis,
        tp,
        { from: 5n, to: 9n, shards: none, deadLettered: undefined },
        prefix,
      ),
    ).toBe(true);
    expect(
      await advanceLedger(
        redis,
        tp,
        { from: 10n, to: 14n, shards: none, deadLettered: undefined },
        prefix,
      ),
    ).toBe(true);
    // A redelivery of what is already in the run changes nothing.
    expect(
      await advanceLedger(
        redis,
        tp,
        { from: 7n, to: 12n, shards: none, deadLettered: undefined },
        prefix,
      ),
    ).toBe(true);
    expect(await ledgerOf(prefix)).toMatchObject({ start: 5n, through: 14n });
  });

  it('does not move the run over a hole, but still raises what shards and dead letters hold', async () => {
    const prefix = fresh();
    await advanceLedger(
      redis,
      tp,
      { from: 0n, to: 9n, shards: none, deadLettered: undefined },
      prefix,
    );
    const joined = await advanceLedger(
      redis,
      tp,
      { from: 20n, to: 29n, shards: new Map([['a', 25n]]), deadLettered: 27n },
      prefix,
    );
    expect(joined).toBe(false);
    expect(await ledgerOf(prefix)).toEqual({
      start: 0n,
      through: 9n,
      shards: new Map([['a', 25n]]),
      deadLettered: 27n,
    });
  });

  it('lowers the start when a repair fills in what came before it', async () => {
    const prefix = fresh();
    await advanceLedger(
      redis,
      tp,
      { from: 50n, to: 59n, shards: none, deadLettered: undefined },
      prefix,
    );
    await advanceLedger(
      redis,
      tp,
      { from: 0n, to: 49n, shards: none, deadLettered: undefined },
      prefix,
    );
    expect(await ledgerOf(prefix)).toMatchObject({ start: 0n, through: 59n });
  });

  it('begins the run anew at a repair before it that does not reach it (a replay limit cut it), keeping every mark', async () => {
    const prefix = fresh();
    await advanceLedger(
      redis,
      tp,
      { from: 50n, to: 59n, shards: new Map([['a', 59n]]), deadLettered: 58n },
      prefix,
    );
    const repaired = { shards: new Map([['a', 9n]]), deadLettered: undefined, repair: true };
    expect(await advanceLedger(redis, tp, { from: 0n, to: 9n, ...repaired }, prefix)).toBe(true);
    expect(await ledgerOf(prefix)).toEqual({
      start: 0n,
      through: 9n,
      shards: new Map([['a', 59n]]),
      deadLettered: 58n,
    });
    // A live batch before the run changes no run; a repair that reaches the run joins it.
    await advanceLedger(redis, tp, { from: 30n, to: 39n, ...repaired, repair: false }, prefix);
    await advanceLedger(redis, tp, { from: 10n, to: 19n, ...repaired }, prefix);
    expect(await ledgerOf(prefix)).toMatchObject({ start: 0n, through: 19n });
  });

  it('takes back a run that a live batch began on a ledger that lost its run after the batch read it', async () => {
    const prefix = fresh();
    const read = { readRun: { start: 0n, through: 9n } };
    // The ledger the batch read is gone (its node restarted empty): the advance begins a run.
    const joined = await advanceLedger(
      redis,
      tp,
      { from: 10n, to: 19n, shards: new Map([['a', 19n]]), deadLettered: undefined, ...read },
      prefix,
    );
    expect(joined).toBe(false);
    expect(await ledgerOf(prefix)).toEqual({
      start: undefined,
      through: undefined,
      shards: new Map([['a', 19n]]),
      deadLettered: undefined,
    });
    // A batch that covers the whole run it read keeps the run it makes (a rewind, a storm).
    expect(
      await advanceLedger(
        redis,
        tp,
        { from: 0n, to: 29n, shards: none, deadLettered: undefined, ...read },
        prefix,
      ),
    ).toBe(true);
    expect(await ledgerOf(prefix)).toMatchObject({ start: 0n, through: 29n });
  });

  it('never lowers what a shard or the dead letters hold', async () => {
    const prefix = fresh();
    await advanceLedger(
      redis,
      tp,
      { from: 0n, to: 9n, shards: new Map([['a', 9n]]), deadLettered: 8n },
      prefix,
    );
    await advanceLedger(
      redis,
      tp,
      { from: 0n, to: 4n, shards: new Map([['a', 3n]]), deadLettered: 2n },
      prefix,
    );
    expect(await ledgerOf(prefix)).toMatchObject({
      shards: new Map([['a', 9n]]),
      deadLettered: 8n,
    });
    expect(await raw.hgetall(partitionLedgerKey(tp, prefix))).toEqual({
      layout: '1',
      through: '9',
      start: '0',
      's:a': '9',
      d: '8',
    });
  });
});

describe('the checks against the ledger', () => {
  const event = (offset: number): GuardedEvent => ({
    shard: 'a',
    sequence: null,
    mutation: mutation('hincrby', { key: 'c', field: 'f', delta: '1' }),
    record: { topic: 'events', partition: 0, offset: String(offset), timestamp: 1 },
  });
  const guard = (keyPrefix: string) => ({
    firstSeq: '1',
    streamMaxLen: 0,
    streamMaxAgeMs: 0,
    keyPrefix,
  });

  it('applies a chunk when the shard holds what the ledger says, and refuses it, writing nothing, when it holds less', async () => {
    const prefix = fresh();
    await applyChunk(redis, 'a', [event(0), event(1)], guard(prefix));
    // Holds 1, as the ledger says: goes on.
    expect(await applyChunk(redis, 'a', [event(2)], guard(prefix), { [tp]: '1' })).toEqual([
      { kind: 'applied' },
    ]);
    // The ledger says 5 was written here; the shard holds 2: its node lost writes.
    const stream = await raw.xlen(shardKeys('a', prefix).stream);
    await expect(applyChunk(redis, 'a', [event(6)], guard(prefix), { [tp]: '5' })).rejects.toThrow(
      RedisBehindError,
    );
    await expect(applyChunk(redis, 'a', [event(6)], guard(prefix), { [tp]: '5' })).rejects.toThrow(
      /events-0: checkpoint 2, ledger 5/,
    );
    expect(await raw.xlen(shardKeys('a', prefix).stream)).toBe(stream);
    // A shard with no checkpoint at all, where the ledger says something was written.
    await expect(applyChunk(redis, 'b', [event(7)], guard(prefix), { [tp]: '3' })).rejects.toThrow(
      /checkpoint none, ledger 3/,
    );
  });

  it('refuses dead letters when the stream holds less than the ledger says was dead-lettered', async () => {
    const prefix = fresh();
    const letter = (offset: number) => ({
      record: mskRecord({ topic: 'events', partition: 0, offset, value: 'x' }),
      reason: 'bad',
    });
    await appendDeadLetters(redis, [letter(3)], prefix);
    await expect(appendDeadLetters(redis, [letter(9)], prefix, { [tp]: '3' })).resolves.toEqual([
      { kind: 'appended' },
    ]);
    await expect(appendDeadLetters(redis, [letter(12)], prefix, { [tp]: '11' })).rejects.toThrow(
      RedisBehindError,
    );
  });
});
