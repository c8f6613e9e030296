/**
 * Position-bound reads (core/reading) on real parts: batches applied through the real sink core
 * and its Redis ports, then read back at their position, on a redis-server and on a 3-master
 * cluster of the file's own. A read at a position Redis has reached sees every write up to it; a
 * read past it fails fast, or waits; and a node restarted empty between the write and the read
 * (the shard's node, or the ledgers' node) never satisfies a bound it no longer holds.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NotUpToBoundError, PositionError } from '../../core/errors.ts';
import { type Position, positionToken } from '../../core/events/position.ts';
import { partitionLedgerKey, stateKey } from '../../core/layout/keys.ts';
import type { RedisCluster } from '../../local/emulators/redis/cluster.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import {
  board,
  freshPrefix,
  type ReadBench,
  readBench,
  readPlaces,
  restartEmpty,
  topic,
} from '../helpers/reading.ts';
import { type RedisTarget, targetOf } from '../helpers/redis.ts';

/** The reason of the NotUpToBoundError that `read` throws. */
async function behindWhy(read: Promise<unknown>): Promise<string[]> {
  const error = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NotUpToBoundError);
  return (error as NotUpToBoundError).behind.map((b) => b.why);
}

describe.each(readPlaces)('position-bound reads on %s', (_where, where) => {
  let server: RedisServer | RedisCluster;
  let target: RedisTarget;
  const benches: ReadBench[] = [];
  beforeAll(async () => {
    server = await where.start();
    target = await targetOf(server);
  });
  afterAll(async () => {
    for (const b of benches) b.close();
    await server.dispose();
  });
  const open = (shard = 'arena', keyPrefix?: string) => {
    const b = readBench(target, shard, keyPrefix);
    benches.push(b);
    return b;
  };

  it('answers every read at a position it has reached with the writes up to it', async () => {
    // Prepare
    const b = open();
    await b.apply([
      { type: 'zincrby', member: 'ann', delta: 5 },
      { type: 'zincrby', member: 'bob', delta: 7 },
      { type: 'zincrby', member: 'cid', delta: 7 },
      { type: 'zincrby', member: 'dan', delta: 1 },
      { type: 'hincrby', field: 'ann', delta: 40 },
    ]);
    const at = positionToken(await b.apply([{ type: 'sadd', member: 'gold' }]));
    const { reader, shard } = b;
    // Act + Assess: ties (bob and cid, 7) ordered by member, reversed for "desc".
    expect(await reader.score(shard, board, 'ann', { at })).toBe(5);
    expect(await reader.rank(shard, board, 'cid', { at })).toEqual({
      member: 'cid',
      rank: 0,
      score: 7,
    });
    expect(await reader.rank(shard, board, 'bob', { at, order: 'asc' })).toMatchObject({
      rank: 2,
    });
    expect(await reader.top(shard, board, 2, { at })).toEqual([
      { member: 'cid', score: 7, rank: 0 },
      { member: 'bob', score: 7, rank: 1 },
    ]);
    expect((await reader.around(shard, board, 'ann', 1, { at })).map((m) => m.member)).toEqual([
      'bob',
      'ann',
      'dan',
    ]);
    expect(await reader.around(shard, board, 'cid', 1, { at, order: 'asc' })).toEqual([
      { member: 'bob', score: 7, rank: 2 },
      { member: 'cid', score: 7, rank: 3 },
    ]);
    expect(await reader.hashField(shard, 'balances', 'ann', { at })).toBe('40');
    expect(await reader.isMember(shard, 'badges', 'gold', { at })).toBe(true);
    // Absent members, and the same reads without a bound.
    expect(await reader.score(shard, board, 'zed', { at })).toBeUndefined();
    expect(await reader.rank(shard, board, 'zed', { at })).toBeUndefined();
    expect(await reader.around(shard, board, 'zed', 3, { at })).toEqual([]);
    expect(await reader.score(shard, board, 'bob')).toBe(7);
    expect(await reader.around(shard, board, 'bob', 5)).toHaveLength(4);
    expect(await reader.top(shard, board, 2)).toEqual(await reader.top(shard, board, 2, { at }));
    expect(await reader.top(shard, board, 9, { order: 'asc' })).toEqual(
      await reader.top(shard, board, 9, { at, order: 'asc' }),
    );
    expect(await reader.rank(shard, board, 'bob')).toEqual({ member: 'bob', rank: 1, score: 7 });
    expect(await reader.rank(shard, board, 'zed')).toBeUndefined();
    expect(await reader.hashField(shard, 'balances', 'ann')).toBe('40');
    expect(await reader.hashField(shard, 'balances', 'zed', { at })).toBeUndefined();
    expect(await reader.isMember(shard, 'badges', 'gold')).toBe(true);
    expect(await reader.isMember(shard, 'badges', 'lead', { at })).toBe(false);
  });

  it('fails fast past what was handled, names how far behind, and waits for it', async () => {
    // Prepare
    const b = open();
    const first = await b.apply([{ type: 'zincrby', member: 'ann', delta: 1 }]);
    const ahead: Position = [{ topic, partition: 0, offset: 3n }];
    // Act + Assess: fail fast, with what Redis vouches for.
    const error = await b.reader.score(b.shard, board, 'ann', { at: ahead }).catch((e) => e);
    expect(error).toBeInstanceOf(NotUpToBoundError);
    expect((error as NotUpToBoundError).behind).toEqual([
      { topic, partition: 0, offset: 3n, reached: 0n, behindBy: 3n, why: 'notYetHandled' },
    ]);
    // A wait ends once the sink gets there, and the read at the bound then sees the write.
    const waited = b.reader.waitFor(positionToken(ahead), { timeoutMs: 10_000, shard: b.shard });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await b.apply([
      { type: 'zincrby', member: 'ann', delta: 1 },
      { type: 'zincrby', member: 'ann', delta: 1 },
      { type: 'zincrby', member: 'ann', delta: 10 },
    ]);
    await waited;
    expect(await b.reader.score(b.shard, board, 'ann', { at: ahead })).toBe(13);
    expect(await b.reader.score(b.shard, board, 'ann', { at: first })).toBe(13);
    // A wait past anything the sink will handle ends at its deadline.
    const started = Date.now();
    expect(
      await behindWhy(b.reader.waitFor([{ topic, partition: 0, offset: 99n }], { timeoutMs: 300 })),
    ).toEqual(['notYetHandled']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('serves many waits with one poll loop, at a bounded rate', async () => {
    // Prepare: 50 waits for an offset the sink will not reach, counted at the client.
    const b = open();
    await b.apply([{ type: 'zincrby', member: 'ann', delta: 1 }]);
    const reads = vi.spyOn(b.redis, 'hgetall');
    // Act
    const waits = Array.from({ length: 50 }, (_, i) =>
      behindWhy(
        b.reader.waitFor([{ topic, partition: 0, offset: 5n + BigInt(i) }], { timeoutMs: 400 }),
      ),
    );
    const whys = await Promise.all(waits);
    // Assess: every wait ended at its deadline; the ledger was read once per poll for all of
    // them: 2 ms doubling to 20 ms over 400 ms is about 25 polls, never one per wait.
    expect(whys.flat()).toEqual(Array.from({ length: 50 }, () => 'notYetHandled'));
    expect(reads.mock.calls.length).toBeGreaterThan(5);
    expect(reads.mock.calls.length).toBeLessThan(50);
    reads.mockRestore();
  });

  it('refuses a bound its node no longer holds after the shard node restarted empty', async () => {
    // Prepare: the write is handled and readable at its position. In the cluster, a shard on
    // another node than the ledger's: that node keeps the ledger while the shard's forgets.
    const prefix = freshPrefix();
    const ledgerNode = await where.nodeOf(server, partitionLedgerKey(`${topic}-0`, prefix));
    let shard = 'arena-0';
    for (let i = 1; 'nodes' in server; i++) {
      if ((await where.nodeOf(server, stateKey(shard, board, prefix))) !== ledgerNode) break;
      shard = `arena-${i}`;
    }
    const b = open(shard, prefix);
    const at = await b.apply([{ type: 'zincrby', member: 'ann', delta: 3 }]);
    expect(await b.reader.score(b.shard, board, 'ann', { at })).toBe(3);
    // Act: the node of the shard forgets everything.
    const node = await where.nodeOf(server, stateKey(b.shard, board, b.prefix));
    await restartEmpty(node);
    await where.settled(server);
    // Assess: the ledger is gone with the node (one server), or the shard holds less than the
    // ledger on another node says was written to it (the cluster).
    expect(await where.nodeOf(server, partitionLedgerKey(`${topic}-0`, b.prefix))).toBe(
      'nodes' in server ? ledgerNode : node,
    );
    expect(await behindWhy(b.reader.score(b.shard, board, 'ann', { at }))).toEqual([
      'nodes' in server ? 'shardBehind' : 'noLedger',
    ]);
    expect(await behindWhy(b.reader.around(b.shard, board, 'ann', 2, { at }))).toHaveLength(1);
    expect(await behindWhy(b.reader.waitFor(at, { timeoutMs: 100, shard: b.shard }))).toHaveLength(
      1,
    );
  });

  it('refuses a bound after the ledgers node restarted empty, even if the shard kept its state', async () => {
    // Prepare
    const b = open();
    const at = await b.apply([{ type: 'zincrby', member: 'ann', delta: 3 }]);
    // Act
    const ledgerNode = await where.nodeOf(server, partitionLedgerKey(`${topic}-0`, b.prefix));
    await restartEmpty(ledgerNode);
    await where.settled(server);
    // Assess
    expect(await behindWhy(b.reader.score(b.shard, board, 'ann', { at }))).toEqual(['noLedger']);
  });

  it('refuses a bound naming a topic the deployment does not consume, or a token that is not one', async () => {
    const b = open();
    await expect(
      b.reader.score(b.shard, board, 'ann', { at: [{ topic: 'other', partition: 0, offset: 1n }] }),
    ).rejects.toThrow(PositionError);
    await expect(
      b.reader.score(b.shard, board, 'ann', { at: [{ topic: 'other', partition: 0, offset: 1n }] }),
    ).rejects.toThrow(/does not consume/);
    await expect(b.reader.score(b.shard, board, 'ann', { at: 'garbage' })).rejects.toThrow(
      PositionError,
    );
    await expect(b.reader.waitFor('p1.!!', { timeoutMs: 10 })).rejects.toThrow(PositionError);
  });
});
