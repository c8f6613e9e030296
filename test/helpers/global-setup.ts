/**
 * Starts the Redis servers the integration suites share: a standalone redis-server and a
 * 3-master Redis Cluster, each on free ports. REDIS_URL and REDIS_CLUSTER_URL point the suites
 * at existing ones instead. Suites keep apart by random shard names.
 */
import type { TestProject } from 'vitest/node';
import { startRedisCluster, startRedisServer } from '../../local/redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    redisClusterUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const server = process.env.REDIS_URL ? undefined : await startRedisServer();
  const cluster = process.env.REDIS_CLUSTER_URL ? undefined : await startRedisCluster(3);
  project.provide('redisUrl', process.env.REDIS_URL ?? (server?.url as string));
  project.provide('redisClusterUrl', process.env.REDIS_CLUSTER_URL ?? (cluster?.url as string));
  return async () => {
    await server?.dispose();
    await cluster?.dispose();
  };
}
