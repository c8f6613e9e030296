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
import { describe, expect, it } from 'vitest';
import { stateKey } from '../../core/layout/keys.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import { alarmIn, useDriftBench, waitFor } from '../helpers/drift.ts';
import { nodeClient, startTestRedisCluster } from '../helpers/redis.ts';
import { expectExact, Traffic } from '../helpers/traffic.ts';

const { server: cluster, setUp } = useDriftBench(() =>
  startTestRedisCluster(3, {
    replicasPerMaster: 1,
    serverArgs: ['--cluster-replica-validity-factor', '0'],
  }),
);

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

/**
 * The master forgets its replicas' connections; a frozen replica cannot come back for more.
 * CLIENT KILL is an operator's command: the admin user sends it.
 */
async function dropReplicationLinks(master: RedisServer): Promise<void> {
  const client = nodeClient(master);
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
    const traffic = new Traffic({ seqs: 'even players', junkEvery: 13 });
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
