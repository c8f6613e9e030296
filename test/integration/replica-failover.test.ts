/**
 * A primary killed mid-run and its replica promoted, on a Redis Cluster of 3 masters with one
 * replica each (its own, not the suite's), the real sink writing events with and without a seq
 * and malformed records through the event source mapping emulator, the drift monitor checking.
 *
 * To make a loss possible at all, the replica falls behind first: it is frozen (SIGSTOP) and its
 * master drops the replication link, so what the master takes from then on reaches no replica.
 * Then the master is killed (SIGKILL) and the stale replica thawed; with
 * `cluster-replica-validity-factor 0` it takes over however old its data
 * (https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/#replica-migration
 * and redis.conf's `cluster-replica-validity-factor`).
 * - Without the wait, the sink acknowledged those writes and Kafka committed them: the promoted
 *   replica lacks them, RedisBehindKafka is raised, and check-drift replays them.
 * - With SEQGUARD_REDIS_WAIT_REPLICAS=1 each of those writes timed out in WAIT
 *   (https://redis.io/docs/latest/commands/wait/) and was retried, nothing was committed past
 *   them, so after the failover there is nothing to repair.
 * Both end with the leaderboard equal to the model of the unique events and every malformed
 * record dead-lettered once.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { verifyFromTopic } from '../../functions/replay/verify.ts';
import { loadSinkConfig } from '../../functions/shared/config.ts';
import { deadLetterKeys, stateKey } from '../../functions/shared/redis/keys.ts';
import { type RedisServer, startRedisCluster } from '../../local/redis-server.ts';
import { alarmIn, type DriftSetup, seed, useDriftBench, waitFor } from '../helpers/drift.ts';
import type { TestRecord } from '../helpers/kafka.ts';

const { server: cluster, setUp } = useDriftBench(() =>
  startRedisCluster(3, {
    replicasPerMaster: 1,
    serverArgs: ['--cluster-replica-validity-factor', '0'],
  }),
);

/** Six players, p0 p2 p4 with a seq and p1 p3 p5 without; junk mixed in. And the model of it. */
class Traffic {
  readonly scores = new Map<string, number>();
  readonly malformed: string[] = [];
  readonly #seqs = new Map<string, number>();
  #round = 0;

  /** Produces the next records; returns the positions of the valid ones. */
  async send(s: DriftSetup, perPlayer: number): Promise<string[]> {
    const records: TestRecord[] = [];
    const junk: boolean[] = [];
    for (let i = 0; i < perPlayer; i++, this.#round++) {
      for (let p = 0; p < 6; p++) {
        const player = `p${p}`;
        const delta = 1 + ((this.#round * 7 + p) % 5);
        const seq = p % 2 === 0 ? (this.#seqs.get(player) ?? 0) + 1 : null;
        if (seq !== null) this.#seqs.set(player, seq);
        this.scores.set(player, (this.scores.get(player) ?? 0) + delta);
        records.push(seed(player, seq, delta));
        junk.push(false);
        if ((this.#round * 6 + p) % 13 === 0) {
          records.push({ partition: p % 2, key: player, value: 'not json' });
          junk.push(true);
        }
      }
    }
    const positions = await s.produce(records);
    positions.forEach((position, i) => {
      if (junk[i]) this.malformed.push(position);
    });
    return positions.filter((_, i) => !junk[i]);
  }
}

async function expectExact(s: DriftSetup, traffic: Traffic): Promise<void> {
  const flat = await s.raw.zrange(
    stateKey('default', 'leaderboard', s.prefix),
    '0',
    '-1',
    'WITHSCORES',
  );
  const board = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) board.set(flat[i] as string, Number(flat[i + 1]));
  expect(board).toEqual(traffic.scores);

  const letters = await s.raw.xrange(deadLetterKeys(s.prefix).stream, '-', '+');
  const lettered = letters.map(([, fields]) => {
    const f = Object.fromEntries(
      fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i], fields[i + 1]]])),
    );
    return `${f.tp}@${f.offset}`;
  });
  expect(lettered.sort()).toEqual([...traffic.malformed].sort());

  const verified = await verifyFromTopic({
    connection: { bootstrapBrokers: [inject('kafkaBootstrap')], clientId: 'failover-test' },
    redis: s.redis,
    topics: [s.topic],
    sink: loadSinkConfig(s.env),
  });
  expect(verified.complete).toBe(true);
  expect(verified.differences).toEqual([]);
}

/**
 * A key prefix, the master of its shard `default` and that master's replica, and a third node to
 * reach the cluster through (one the test leaves alone).
 */
async function pickShardHome() {
  const prefix = `f${randomBytes(4).toString('hex')}`;
  const { master, replicas } = await cluster().ownersOf(stateKey('default', 'leaderboard', prefix));
  const [replica] = replicas;
  const entry = cluster().nodes.find((n) => n !== master && n !== replica);
  if (!replica || !entry) throw new Error(`the master of ${prefix} has no replica`);
  return { prefix, master, replica, entry };
}

/** The master forgets its replicas' connections; a frozen replica cannot come back for more. */
async function dropReplicationLinks(master: RedisServer): Promise<void> {
  const client = new Redis(master.url);
  try {
    await client.call('CLIENT', 'KILL', 'TYPE', 'replica');
  } finally {
    client.disconnect();
  }
}

describe.each([
  ['without the wait', false],
  ['with SEQGUARD_REDIS_WAIT_REPLICAS=1', true],
])('a Redis Cluster primary killed mid-run, its replica promoted, %s', (_label, wait) => {
  it(wait
    ? 'loses nothing acknowledged: nothing to repair, RedisBehindKafka stays OK'
    : 'loses acknowledged writes, raises RedisBehindKafka and replays them', async () => {
    // Prepare: events flow, every write of the shard reaches the master and its replica.
    const { prefix, master, replica, entry } = await pickShardHome();
    const s = await setUp(`failover-${wait}`, {
      REDIS_URL: entry.url,
      SEQGUARD_REDIS_CLUSTER: 'true',
      SEQGUARD_KEY_PREFIX: prefix,
      SEQGUARD_REDIS_TIMEOUT_MS: '2000',
      SEQGUARD_REDIS_WAIT_REPLICAS: wait ? '1' : '0',
      SEQGUARD_REDIS_WAIT_TIMEOUT_MS: '200',
    });
    const traffic = new Traffic();
    const pipeline = s.pipeline();
    s.monitor.start();
    await traffic.send(s, 6);
    await s.caughtUp();

    // Act: the replica falls behind while events go on; then its master dies and it takes over.
    replica.freeze();
    await dropReplicationLinks(master);
    const failures = () =>
      pipeline.mapping.stats.partialFailures + pipeline.mapping.stats.functionErrors;
    const failedBefore = failures();
    const unreplicated = await traffic.send(s, 6);
    if (wait) {
      // Applied on the master, but no replica acknowledged: reported failed, not committed.
      await waitFor(() => failures() > failedBefore + 2, 'writes to time out in WAIT');
      for (const [partition, offset] of pipeline.mapping.committed) {
        const first = unreplicated.find((p) => p.startsWith(`${partition}@`));
        if (first) expect(offset).toBeLessThanOrEqual(BigInt(first.split('@')[1] as string));
      }
    } else {
      await s.caughtUp();
    }
    await master.stop();
    replica.thaw();
    await cluster().waitForPromotion(replica, [master]);
    await traffic.send(s, 6);
    // The dead node is replaced, as ElastiCache replaces a failed one: it comes back as the new
    // master's replica. Until then, with the wait on, the shard's writes are retried: the new
    // master has no replica to acknowledge them.
    await cluster().rejoin(master);

    // Assess
    await s.caughtUp(90_000);
    if (wait) {
      const report = await s.monitor.checkOnce();
      expect(report.values.redisBehindRecords).toBe(0);
      expect(report.replay).toBeUndefined();
      expect(s.monitor.transitions.filter((t) => t.alarm === 'redisBehindRecords')).toEqual([]);
    } else {
      await waitFor(
        () =>
          s.monitor.transitions.some((t) => t.alarm === 'redisBehindRecords' && t.to === 'ALARM'),
        'RedisBehindKafka to be raised',
      );
      await alarmIn(s.monitor, 'redisBehindRecords', 'OK', 60_000);
    }
    await expectExact(s, traffic);
  }, 180_000);
});
