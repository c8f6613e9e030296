/**
 * Starts the servers the integration suites share: a standalone redis-server, a 3-master Redis
 * Cluster and a single-node Kafka broker (KRaft), each on free ports. REDIS_URL,
 * REDIS_CLUSTER_URL and KAFKA_BROKERS point the suites at existing ones instead. Suites keep
 * apart by random shard names, key prefixes and topic names.
 */
import type { TestProject } from 'vitest/node';
import { startKafkaBroker } from '../../local/kafka-broker.ts';
import { startRedisCluster, startRedisServer } from '../../local/redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    redisClusterUrl: string;
    kafkaBootstrap: string;
  }
}

export default async function setup(project: TestProject) {
  const [server, cluster, kafka] = await Promise.all([
    process.env.REDIS_URL ? undefined : startRedisServer(),
    process.env.REDIS_CLUSTER_URL ? undefined : startRedisCluster(3),
    startKafkaBroker(),
  ]);
  project.provide('redisUrl', process.env.REDIS_URL ?? (server?.url as string));
  project.provide('redisClusterUrl', process.env.REDIS_CLUSTER_URL ?? (cluster?.url as string));
  project.provide('kafkaBootstrap', kafka.bootstrap);
  return async () => {
    await Promise.all([server?.dispose(), cluster?.dispose(), kafka.stop()]);
  };
}
