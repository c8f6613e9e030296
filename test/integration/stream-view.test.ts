/**
 * The delta-stream view (core/reading/stream-view.ts) on real parts: batches applied through the
 * real sink core write the shard's stream, a view tails it, on a redis-server and on a 3-master
 * cluster of the file's own. Each test ends with the view equal to the leaderboard Redis holds:
 * across a consumer stopped and started again, a trim past the view, and the shard's node
 * rolled back to an earlier snapshot or restarted empty; refusals come through as refusals.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEntry } from '../../core/layout/codecs.ts';
import { shardKeys, stateKey } from '../../core/layout/keys.ts';
import {
  createStreamView,
  type StreamView,
  type StreamViewOptions,
} from '../../core/reading/stream-view.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import type { RedisCluster } from '../../local/emulators/redis/cluster.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import {
  board,
  leaderboardOf,
  type ReadBench,
  type ReadEvent,
  readBench,
  readPlaces,
} from '../helpers/reading.ts';
import { nodeClient, type RedisTarget, targetOf } from '../helpers/redis.ts';

/** `count` score changes over 20 players. */
const scores = (count: number, from = 0): ReadEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    type: 'zincrby',
    member: `p${(from + i) % 20}`,
    delta: ((from + i) % 7) + 1,
  }));

/**
 * The project client with a gate on its transactions: while shut, the view's reads wait
 * before they reach Redis, so a test can act between two of them. The reads themselves are the
 * real client's.
 */
function gated(redis: RedisClient): { client: RedisClient; shut(): void; open(): void } {
  let gate: Promise<void> = Promise.resolve();
  let release = () => {};
  const client = new Proxy(redis, {
    get(target, property) {
      if (property === 'multi') {
        return (...args: unknown[]) => {
          const tx = (target.multi as (...a: unknown[]) => { exec: () => Promise<unknown> })(
            ...args,
          );
          const exec = tx.exec.bind(tx);
          tx.exec = async () => {
            await gate;
            return exec();
          };
          return tx;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    client,
    shut() {
      gate = new Promise((resolve) => {
        release = resolve;
      });
    },
    open: () => release(),
  };
}

async function expectViewIsState(view: StreamView, b: ReadBench): Promise<void> {
  await view.caughtUp();
  const state = await leaderboardOf(b.redis, b.shard, b.prefix);
  expect(view.top(1_000)).toEqual(state);
  expect(view.size).toBe(state.length);
}

describe.each(readPlaces)('the delta-stream view on %s', (_where, where) => {
  let server: RedisServer | RedisCluster;
  let target: RedisTarget;
  const benches: ReadBench[] = [];
  const views: StreamView[] = [];
  beforeAll(async () => {
    server = await where.start();
    target = await targetOf(server);
  });
  afterAll(async () => {
    for (const view of views) await view.stop();
    for (const b of benches) b.close();
    await server.dispose();
  });
  const open = () => {
    const b = readBench(target, 'arena');
    benches.push(b);
    return b;
  };
  const viewOf = (b: ReadBench, options: Partial<StreamViewOptions> = {}, redis = b.redis) => {
    const view = createStreamView(redis, {
      shard: b.shard,
      name: board,
      keyPrefix: b.prefix,
      blockMs: 200,
      ...options,
    });
    views.push(view);
    return view;
  };

  it('warms from the state, then applies every entry once; refusals come through as refusals', async () => {
    // Prepare
    const b = open();
    await b.apply(scores(30));
    const entries: StreamEntry[] = [];
    const view = viewOf(b, { onEntry: (entry) => entries.push(entry) });
    await view.start();
    await expectViewIsState(view, b);
    // Act: more scores, a payout refused for want of balance, in small pages.
    await b.apply([
      ...scores(25, 30),
      { type: 'debit', field: 'ann', amount: 5 },
      ...scores(5, 55),
    ]);
    // Assess
    await expectViewIsState(view, b);
    expect(entries).toHaveLength(31);
    expect(entries.filter((e) => e.refused !== undefined).map((e) => [e.op, e.refused])).toEqual([
      ['debit', 'insufficient'],
    ]);
    expect(view.warmups).toBe(1);
    expect(view.rank('p0')).toEqual({
      member: 'p0',
      score: view.score('p0'),
      rank: view.top(100).findIndex((m) => m.member === 'p0'),
    });
  });

  it('warms from the last N entries as the fold of those entries', async () => {
    const b = open();
    await b.apply([
      { type: 'zincrby', member: 'ann', delta: 1 },
      { type: 'zincrby', member: 'bob', delta: 2 },
      { type: 'zincrby', member: 'ann', delta: 4 },
    ]);
    const view = viewOf(b, { warm: { entries: 2 } });
    await view.start();
    expect(view.top(10)).toEqual([
      { member: 'ann', score: 4, rank: 0 },
      { member: 'bob', score: 2, rank: 1 },
    ]);
    await b.apply([{ type: 'zincrby', member: 'bob', delta: 5 }]);
    await view.caughtUp();
    expect(view.score('bob')).toBe(7);
  });

  it('equals the state after the consumer is stopped and a new one starts while the sink goes on', async () => {
    const b = open();
    await b.apply(scores(40));
    const first = viewOf(b);
    await first.start();
    await b.apply(scores(40, 40));
    await first.caughtUp();
    await first.stop();
    await b.apply(scores(40, 80));
    const second = viewOf(b);
    await second.start();
    await b.apply(scores(40, 120));
    await expectViewIsState(second, b);
    expect(second.warmups).toBe(1);
  });

  it("runs one view per shard side by side, each tailing its own shard's stream", async () => {
    // Prepare: three shards (in the cluster, spread over its nodes by their hash tags)
    const shards = [open(), open(), open()];
    await Promise.all(shards.map((b, i) => b.apply(scores(10, i))));
    const shardViews = shards.map((b) => viewOf(b));
    await Promise.all(shardViews.map((view) => view.start()));
    // Act: the sink writes to all three at once
    await Promise.all(shards.map((b, i) => b.apply(scores(60, 10 * i))));
    // Assess: each view holds its own shard's leaderboard, every entry applied once
    for (const [i, view] of shardViews.entries()) {
      await expectViewIsState(view, shards[i] as ReadBench);
      expect(view.tailed).toBe(60);
      expect(view.warmups).toBe(1);
    }
  });

  it('warms again, instead of skipping, when the stream is trimmed past it', async () => {
    // Prepare: a view that is caught up, whose next read waits at the gate.
    const b = open();
    await b.apply(scores(10));
    const gate = gated(b.redis);
    const why: string[] = [];
    const view = viewOf(b, { onRewarm: (w) => why.push(w) }, gate.client);
    await view.start();
    await view.caughtUp();
    gate.shut();
    // Act: entries the view has not read, trimmed away before it reads them.
    await b.apply(scores(10, 10));
    await b.redis.xtrim(shardKeys(b.shard, b.prefix).stream, 'MAXLEN', 0);
    await b.apply(scores(5, 20));
    gate.open();
    // Assess
    await expectViewIsState(view, b);
    expect(why).toHaveLength(1);
    expect(why[0]).toMatch(/trimmed/);
    expect(view.warmups).toBe(2);
  });

  it('warms again when the shard node comes back from an earlier snapshot', async () => {
    // Prepare: a snapshot after the first events; the view follows the later ones.
    const b = open();
    await b.apply(scores(10));
    const node = await where.nodeOf(server, stateKey(b.shard, board, b.prefix));
    const admin = nodeClient(node);
    await admin.bgsave();
    // Done when no save runs and nothing changed since the last one (LASTSAVE counts seconds).
    const saved = async () => {
      const info = await admin.info('persistence');
      return (
        info.includes('rdb_bgsave_in_progress:0') && info.includes('rdb_changes_since_last_save:0')
      );
    };
    await expect.poll(saved, { timeout: 10_000 }).toBe(true);
    admin.disconnect();
    const why: string[] = [];
    const view = viewOf(b, { onRewarm: (w) => why.push(w), onError: () => {} });
    await view.start();
    await b.apply(scores(10, 10));
    await expectViewIsState(view, b);
    // Act: the node forgets what came after the snapshot.
    await node.stop();
    await node.start();
    await rm(join(node.dir, 'dump.rdb'), { force: true });
    await where.settled(server);
    // Assess: the view holds what Redis holds, not what it forgot.
    await expect.poll(() => why.length, { timeout: 10_000 }).toBe(1);
    expect(why[0]).toMatch(/rolled back/);
    await expectViewIsState(view, b);
    expect(view.score('p12')).toBeUndefined();
  });
});
