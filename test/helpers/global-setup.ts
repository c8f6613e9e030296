/**
 * Starts the servers the integration suites share: a standalone redis-server, a 3-master Redis
 * Cluster and a single-node Kafka broker (KRaft), each on free ports. REDIS_URL,
 * REDIS_CLUSTER_URL and KAFKA_BROKERS point the suites at existing ones instead. Suites keep
 * apart by random shard names, key prefixes and topic names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startKafkaBroker } from '../../local/kafka-broker.ts';
import { startRedisCluster, startRedisServer } from '../../local/redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    redisClusterUrl: string;
    kafkaBootstrap: string;
    /** A folder for the run's temp files (e.g. CDK synth output), removed when the run ends. */
    tempRoot: string;
  }
}

export default async function setup(project: TestProject) {
  const started = await Promise.allSettled([
    process.env.REDIS_URL ? undefined : startRedisServer(),
    process.env.REDIS_CLUSTER_URL ? undefined : startRedisCluster(3),
    startKafkaBroker(),
  ] as const);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    // Stop what did start, so a failed setup leaves no server behind.
    for (const s of started) {
      if (s.status !== 'fulfilled' || !s.value) continue;
      await ('dispose' in s.value ? s.value.dispose() : s.value.stop());
    }
    throw failed.reason;
  }
  const [server, cluster, kafka] = started.map(
    (s) => (s as PromiseFulfilledResult<unknown>).value,
  ) as [
    Awaited<ReturnType<typeof startRedisServer>> | undefined,
    Awaited<ReturnType<typeof startRedisCluster>> | undefined,
    Awaited<ReturnType<typeof startKafkaBroker>>,
  ];
  project.provide('redisUrl', process.env.REDIS_URL ?? (server?.url as string));
  project.provide('redisClusterUrl', process.env.REDIS_CLUSTER_URL ?? (cluster?.url as string));
  project.provide('kafkaBootstrap', kafka.bootstrap);
  const tempRoot = await mkdtemp(join(tmpdir(), 'seqguard-test-'));
  project.provide('tempRoot', tempRoot);
  return async () => {
    await Promise.all([server?.dispose(), cluster?.dispose(), kafka.stop()]);
    await rm(tempRoot, { recursive: true, force: true });
  };
}
