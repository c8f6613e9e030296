/**
 * Exactly once when Redis forgets acknowledged writes, on real parts: a redis-server (or the
 * cluster node holding the shard) restarted empty mid-run, one rolled back to an earlier
 * snapshot, and a range the trigger gave up on and an operator replays later. Each on a single
 * redis-server and on a 3-master cluster, for events with a seq and events without one (guarded
 * by offset), with malformed records mixed in. Each ends with the leaderboard equal to the model
 * of the unique events, every malformed record dead-lettered exactly once, verify finding no
 * difference, and the RedisBehindKafka alarm raised and cleared.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { checkDrift, type DriftReads, redisDriftReads } from '../../core/drift/check-drift.ts';
import { deadLetterKeys, partitionLedgerKey, stateKey } from '../../core/layout/keys.ts';
import { createSinkPorts } from '../../core/sink/redis-ports.ts';
import { replay } from '../../core/sink/replay.ts';
import { waitForClusterOk } from '../../local/emulators/redis/cluster.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import { type DriftSetup, useDriftBench, waitFor } from '../helpers/drift.ts';
import { createTopic, suiteKafka, type TestRecord } from '../helpers/kafka.ts';
import { nodeClient, startTestRedisCluster } from '../helpers/redis.ts';
import { expectExact, expectRaisedAndCleared, Traffic } from '../helpers/traffic.ts';

const single = useDriftBench();
const clustered = useDriftBench(() => startTestRedisCluster(3));

/** Where the test runs, and which node it makes forget. */
interface Target {
  setUp(label: string): Promise<DriftSetup>;
  /** The node that holds the leaderboard's shard. */
  nodeOf(s: DriftSetup): Promise<RedisServer>;
  /** After a node came back: every slot served again. */
  settled(): Promise<void>;
}

const targets: [string, Target][] = [
  [
    'a redis-server',
    {
      setUp: (label) => single.setUp(label),
      nodeOf: async () => single.server(),
      settled: async () => {},
    },
  ],
  [
    'a 3-master cluster',
    {
      setUp: (label) => clustered.setUp(`c${label}`, { SEQGUARD_REDIS_CLUSTER: 'true' }),
      nodeOf: async (s) =>
        (await clustered.server().ownersOf(stateKey('default', 'leaderboard', s.prefix))).master,
      settled: () => waitForClusterOk(clustered.server()),
    },
  ],
];

/** A command to one node, as an operator's redis-cli would send it (as the admin user). */
async function onNode<T>(node: RedisServer, work: (client: Redis) => Promise<T>): Promise<T> {
  const client = nodeClient(node);
  try {
    return await work(client);
  } finally {
    client.disconnect();
  }
}

describe.each(
  targets.flatMap(([where, target]) =>
    [true, false].map(
      (withSeq) => [where, withSeq ? 'with a seq' : 'without a seq', target, withSeq] as const,
    ),
  ),
)('Redis forgetting acknowledged writes, on %s, events %s', (_where, _label, target, withSeq) => {
  it('repairs a node restarted empty mid-run', async () => {
    // Prepare
    const s = await target.setUp(`empty-${withSeq}`);
    const traffic = new Traffic({ seqs: withSeq ? 'all' : 'none' });
    s.pipeline();
    s.monitor.start();
    await traffic.send(s, 10);
    await s.caughtUp();
    // Act: every acknowledged write of the node is gone; Kafka's commits stay. Traffic goes on.
    const node = await target.nodeOf(s);
    await rm(join(node.dir, 'dump.rdb'), { force: true });
    await node.stop();
    await node.start();
    await target.settled();
    await traffic.send(s, 10);
    // Assess
    await s.caughtUp(60_000);
    await expectRaisedAndCleared(s);
    await expectExact(s, traffic);
  });

  it('repairs a node rolled back to an earlier snapshot mid-run', async () => {
    // Prepare: a snapshot after the first part of the traffic.
    const s = await target.setUp(`rollback-${withSeq}`);
    const traffic = new Traffic({ seqs: withSeq ? 'all' : 'none' });
    s.pipeline();
    s.monitor.start();
    await traffic.send(s, 8);
    await s.caughtUp();
    const node = await target.nodeOf(s);
    const before = await onNode(node, (c) => c.lastsave());
    await onNode(node, (c) => c.bgsave());
    await waitFor(async () => (await onNode(node, (c) => c.lastsave())) > before, 'the snapshot');
    await traffic.send(s, 8);
    await s.caughtUp();
    // Act: the node comes back from the snapshot: the second part is forgotten.
    await node.stop();
    await node.start();
    await rm(join(node.dir, 'dump.rdb'), { force: true });
    await target.settled();
    await traffic.send(s, 8);
    // Assess
    await s.caughtUp(60_000);
    await expectRaisedAndCleared(s);
    await expectExact(s, traffic);
  });

  it('keeps what came before a repair when the node forgets again while the repair runs', async () => {
    // Prepare: a range the trigger gave up on (Redis frozen), after a first part that was
    // applied, malformed records with it; the check that plans the range's repair reads Redis,
    // and then the node loses every write before the repair writes (soak: "dead letters 95 of
    // 105" after two lost-writes faults).
    const s = await target.setUp(`again-${withSeq}`);
    const failures = `${s.topic}.failed`;
    await createTopic(failures, 1);
    const traffic = new Traffic({ seqs: withSeq ? 'all' : 'none' });
    s.pipeline({ mapping: { maximumRetryAttempts: 1, onFailureTopic: failures } });
    await traffic.send(s, 8);
    await s.caughtUp();
    const node = await target.nodeOf(s);
    node.freeze();
    await traffic.send(s, 5);
    await s.caughtUp(60_000);
    node.thaw();
    await target.settled();
    const sink = loadSinkConfig(s.env);
    const reads = redisDriftReads(s.redis, s.prefix, 1_000_000);
    const forgetAfterReading: DriftReads = {
      ...reads,
      deadLetters: async () => {
        const read = await reads.deadLetters();
        await onNode(node, (c) => c.flushall());
        return read;
      },
    };
    // Act: that check, then the drift monitor as usual, and more traffic.
    await checkDrift(
      {
        kafka: suiteKafka('drift-again'),
        redis: s.redis,
        ports: createSinkPorts(s.redis, sink.guard),
        sink,
        reads: forgetAfterReading,
      },
      {
        topics: [s.topic],
        consumerGroup: `seqguard-${s.topic}`,
        autoReplay: true,
        replayLimit: 10_000,
        maxStateEntries: 1_000_000,
      },
    );
    s.monitor.start();
    await traffic.send(s, 5);
    // Assess: the first part is back, its dead letters too.
    await s.caughtUp(60_000);
    await expectRaisedAndCleared(s);
    await expectExact(s, traffic);
  });

  it('applies a range the trigger gave up on exactly once, and an operator replay of it changes nothing', async () => {
    // Prepare: the trigger gives up after one retry; given-up records go to a topic.
    const s = await target.setUp(`abandon-${withSeq}`);
    const failures = `${s.topic}.failed`;
    await createTopic(failures, 1);
    const traffic = new Traffic({ seqs: withSeq ? 'all' : 'none' });
    const pipeline = s.pipeline({ mapping: { maximumRetryAttempts: 1, onFailureTopic: failures } });
    await traffic.send(s, 5);
    await s.caughtUp();
    // Act: Redis stops answering; the trigger gives up on what comes meanwhile and goes on.
    const node = await target.nodeOf(s);
    node.freeze();
    await traffic.send(s, 5);
    await s.caughtUp(60_000);
    expect(pipeline.mapping.stats.recordsDiscarded).toBeGreaterThan(0);
    node.thaw();
    await target.settled();
    // Later records of the same partitions arrive; the drift check runs.
    await traffic.send(s, 5);
    s.monitor.start();
    await s.caughtUp(60_000);
    await expectRaisedAndCleared(s);
    // The operator replays the given-up range, as docs/operations.md says.
    const sink = loadSinkConfig(s.env);
    const again = await replay(
      suiteKafka('operator'),
      createSinkPorts(s.redis, sink.guard),
      sink,
      [0, 1].map((partition) => ({ topic: s.topic, partition, from: 0n, to: 10_000n })),
      10_000,
    );
    // Assess
    expect(again.failed).toBe(0);
    expect(again.summary.applied).toBe(0);
    await expectExact(s, traffic);
  });
});

describe('RedisBehindKafka, counted (issue 27)', () => {
  it('publishes each record lost once when the node of two shards of one partition restarts empty', async () => {
    // Prepare: events of two shards and malformed records on one partition of a cluster, where
    // both shards live on one node and the partition's ledger on another.
    const mapping = {
      seq: 'sequence_id',
      shard: 'tenant',
      op: 'zincrby',
      key: 'leaderboard',
      target: 'player_id',
      value: 'delta',
    };
    const s = await clustered.setUp('counted', {
      SEQGUARD_REDIS_CLUSTER: 'true',
      SEQGUARD_MAPPING: JSON.stringify(mapping),
    });
    const cluster = clustered.server();
    const ledgerNode = (await cluster.ownersOf(partitionLedgerKey(`${s.topic}-0`, s.prefix)))
      .master;
    const byNode = new Map<RedisServer, string[]>();
    for (let i = 0; byNode.size === 0 || ![...byNode.values()].some((n) => n.length >= 2); i++) {
      const shard = `t${i}`;
      const node = (await cluster.ownersOf(stateKey(shard, 'leaderboard', s.prefix))).master;
      if (node !== ledgerNode) byNode.set(node, [...(byNode.get(node) ?? []), shard]);
    }
    const [lostNode, shards] = [...byNode].find(([, names]) => names.length >= 2) as [
      RedisServer,
      string[],
    ];
    const [a, b] = shards as [string, string];
    const records: TestRecord[] = [];
    const scores = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      if (i % 7 === 6) {
        records.push({ partition: 0, key: 'junk', value: 'not json' });
        continue;
      }
      const tenant = i % 2 === 0 ? a : b;
      const player = `p${i % 3}`;
      records.push({
        partition: 0,
        key: player,
        value: JSON.stringify({ player_id: player, delta: 1 + (i % 4), tenant }),
      });
      const at = `${tenant}/${player}`;
      scores.set(at, (scores.get(at) ?? 0) + 1 + (i % 4));
    }
    const positions = await s.produce(records);
    s.pipeline();
    await s.caughtUp();
    // What the node held of the partition: every offset written to its shards, and the dead
    // letters' too when they live there; each range starts at offset 0.
    const lettersLost =
      (await cluster.ownersOf(deadLetterKeys(s.prefix).stream)).master === lostNode;
    const held = records.flatMap((r, i) =>
      r.value === 'not json' ? (lettersLost ? [i] : []) : [i],
    );
    const expectedBehind = Number(positions[Math.max(...held)]?.split('@')[1]) + 1;

    // Act: that node restarts without its data; the ledger's node keeps its own.
    await rm(join(lostNode.dir, 'dump.rdb'), { force: true });
    await lostNode.stop();
    await lostNode.start();
    await waitForClusterOk(cluster);
    const sink = loadSinkConfig(s.env);
    const check = (autoReplay: boolean) =>
      checkDrift(
        {
          kafka: suiteKafka('drift-counted'),
          redis: s.redis,
          ports: createSinkPorts(s.redis, sink.guard),
          sink,
        },
        {
          topics: [s.topic],
          consumerGroup: `seqguard-${s.topic}`,
          autoReplay,
          replayLimit: 10_000,
          maxStateEntries: 1_000_000,
        },
      );
    const found = await check(false);

    // Assess: the union of the shards' (and dead letters') ranges, each offset once; several
    // reasons overlap, and a sum of their sizes would say more.
    const reasons = found.partitions.find((p) => p.index === 0)?.behind.ranges ?? [];
    expect(reasons.filter((r) => r.why === 'shardBehind')).toHaveLength(2);
    expect(found.values.redisBehindRecords).toBe(expectedBehind);
    expect(reasons.reduce((n, r) => n + Number(r.to - r.from), 0)).toBeGreaterThan(expectedBehind);
    // The repair brings every shard back to the model, and nothing is behind after it.
    await check(true);
    const after = await check(false);
    expect(after.values.redisBehindRecords).toBe(0);
    const board = new Map<string, number>();
    for (const tenant of [a, b]) {
      const flat = await s.raw.zrange(
        stateKey(tenant, 'leaderboard', s.prefix),
        0,
        -1,
        'WITHSCORES',
      );
      for (let i = 0; i < flat.length; i += 2)
        board.set(`${tenant}/${flat[i]}`, Number(flat[i + 1]));
    }
    expect(board).toEqual(scores);
  });
});
