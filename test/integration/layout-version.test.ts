/**
 * The version stamp on a real Redis (core/layout/versions.ts, lua/includes/checkLayoutVersion.lua):
 * what writes a shard or a partition ledger stamps it with the layout and stream format it
 * writes, and every script and reader that meets a stamp newer than this code reads refuses
 * with RedisNewerLayoutError and writes nothing, rather than misreading what a newer version
 * wrote.
 */
import { describe, expect, it } from 'vitest';
import { RedisNewerLayoutError } from '../../core/errors.ts';
import { metaField } from '../../core/layout/codecs.ts';
import { partitionLedgerKey, shardKeys, stateKey } from '../../core/layout/keys.ts';
import { layoutVersion, streamFormat } from '../../core/layout/versions.ts';
import { applyChunk, type GuardOptions } from '../../core/redis/apply-batch.ts';
import { inspectShard } from '../../core/redis/inspect.ts';
import { advanceLedger, readLedgerRuns, readLedgers } from '../../core/redis/ledger.ts';
import { rebuildState } from '../../tools/rebuild/rebuild.ts';
import { guardedEvent, uniqueShard } from '../helpers/events.ts';
import { suiteRedis } from '../helpers/redis.ts';

const keyPrefix = 'sg';
const options: GuardOptions = { firstSeq: '1', streamMaxLen: 0, streamMaxAgeMs: 0, keyPrefix };

const { redis, raw } = suiteRedis();

function events(shard: string) {
  return [1, 2].map((seq) =>
    guardedEvent({
      shard,
      scope: 'p1',
      seq,
      offset: seq,
      mutation: { op: 'zincrby', keys: ['board'], args: ['p1', String(seq)] },
    }),
  );
}

/** Every key of the shard and what it holds, the meta hash as a whole. */
async function shardContents(shard: string) {
  const keys = shardKeys(shard, keyPrefix);
  return {
    cursors: await raw.hgetall(keys.cursors),
    offsets: await raw.hgetall(keys.offsets),
    stream: await raw.xlen(keys.stream),
    meta: await raw.hgetall(keys.meta),
    board: await raw.zrange(stateKey(shard, 'board', keyPrefix), 0, -1, 'WITHSCORES'),
  };
}

const advance = {
  from: 0n,
  to: 4n,
  shards: new Map([['s', 4n]]),
  deadLettered: undefined,
};

describe('applyBatch and the shard stamp', () => {
  it('stamps a shard with the layout and stream format it writes', async () => {
    // Prepare
    const shard = uniqueShard('stamp');
    // Act
    await applyChunk(redis, shard, events(shard), options);
    // Assess
    const meta = await raw.hgetall(shardKeys(shard, keyPrefix).meta);
    expect(meta[metaField.layout]).toBe(String(layoutVersion.written));
    expect(meta[metaField.streamFormat]).toBe(String(streamFormat.written));
  });

  it('raises an older stamp, and leaves one it wrote as it is', async () => {
    // Prepare: a stamp below every version ever written (a future format's first reader sees
    // this case), then one the code wrote.
    const shard = uniqueShard('older');
    const meta = shardKeys(shard, keyPrefix).meta;
    await raw.hset(meta, metaField.layout, '0', metaField.streamFormat, '2');
    // Act
    await applyChunk(redis, shard, events(shard).slice(0, 1), options);
    const raised = await raw.hmget(meta, metaField.layout, metaField.streamFormat);
    await applyChunk(redis, shard, events(shard).slice(1), options);
    // Assess
    expect(raised).toEqual([String(layoutVersion.written), String(streamFormat.written)]);
    expect(await raw.hmget(meta, metaField.layout, metaField.streamFormat)).toEqual(raised);
    expect((await shardContents(shard)).board).toEqual(['p1', '3']);
  });

  it.each([
    ['a newer layout', { layout: String(layoutVersion.read + 1) }],
    ['a newer stream format', { streamFormat: String(streamFormat.read + 1) }],
    ['a stamp that is not a number', { layout: 'two' }],
    ['an empty stamp', { streamFormat: '' }],
  ])('refuses a shard stamped with %s, and writes nothing', async (_label, stamp) => {
    // Prepare
    const shard = uniqueShard('newer');
    await raw.hset(shardKeys(shard, keyPrefix).meta, stamp);
    const before = await shardContents(shard);
    // Act
    const applying = applyChunk(redis, shard, events(shard), options);
    // Assess
    await expect(applying).rejects.toThrow(RedisNewerLayoutError);
    await expect(applying).rejects.toThrow(/written by a newer seqguard; this code reads layout 1/);
    expect(await shardContents(shard)).toEqual(before);
  });

  it('refuses a rebuild of a shard a newer version wrote, and leaves its state', async () => {
    // Prepare
    const shard = uniqueShard('rebuild');
    await applyChunk(redis, shard, events(shard), options);
    await raw.hset(shardKeys(shard, keyPrefix).meta, metaField.streamFormat, '4');
    const before = await shardContents(shard);
    // Act
    const rebuilding = rebuildState(redis, { shard, name: 'board', keyPrefix });
    // Assess
    await expect(rebuilding).rejects.toThrow(RedisNewerLayoutError);
    expect(await shardContents(shard)).toEqual(before);
  });

  it('keeps the drift check from judging a shard a newer version wrote', async () => {
    // Prepare
    const shard = uniqueShard('inspect');
    await applyChunk(redis, shard, events(shard), options);
    await raw.hset(shardKeys(shard, keyPrefix).meta, metaField.layout, '2');
    // Act
    const inspecting = inspectShard(
      redis,
      { shard, registered: true },
      { keyPrefix, maxStateEntries: 1_000 },
    );
    // Assess
    await expect(inspecting).rejects.toThrow(RedisNewerLayoutError);
  });
});

describe('the partition ledger stamp', () => {
  it('stamps a ledger with the layout its advance writes, which its readers take', async () => {
    // Prepare
    const partition = `${uniqueShard('ledger')}-0`;
    // Act
    await advanceLedger(redis, partition, advance, keyPrefix);
    // Assess
    expect(await raw.hget(partitionLedgerKey(partition, keyPrefix), 'layout')).toBe(
      String(layoutVersion.written),
    );
    const read = await readLedgers(redis, [partition], keyPrefix);
    expect(read.get(partition)?.through).toBe(4n);
  });

  it('refuses to read or advance a ledger a newer version wrote, and writes nothing', async () => {
    // Prepare
    const partition = `${uniqueShard('ledger')}-0`;
    const key = partitionLedgerKey(partition, keyPrefix);
    await raw.hset(key, 'layout', '2', 'start', '0', 'through', '1');
    // Act
    const reading = readLedgers(redis, [partition], keyPrefix);
    const bounding = readLedgerRuns(redis, [partition], keyPrefix, 's');
    const advancing = advanceLedger(redis, partition, advance, keyPrefix);
    // Assess
    await expect(reading).rejects.toThrow(RedisNewerLayoutError);
    await expect(bounding).rejects.toThrow(RedisNewerLayoutError);
    await expect(advancing).rejects.toThrow(RedisNewerLayoutError);
    expect(await raw.hgetall(key)).toEqual({ layout: '2', start: '0', through: '1' });
  });
});
