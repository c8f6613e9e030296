/**
 * The soak's set-up: its servers in production's security shape (or plaintext), its topic, the
 * proxy between the sink and a single Redis, the function's environment, and the run's own Redis
 * clients. Everything started goes on `resources`.
 */
import type { Admin } from '@platformatic/kafka';
import {
  createAdmin,
  createRedisClient,
  loadSinkConfig,
  type RedisClient,
  type SinkConfig,
} from '../../core/index.ts';
import { type KafkaBroker, startKafkaBroker } from '../emulators/kafka/broker.ts';
import { type RedisCluster, startRedisCluster } from '../emulators/redis/cluster.ts';
import { type RedisServer, startRedisServer } from '../emulators/redis/server.ts';
import { startTcpProxy, type TcpProxy } from '../emulators/tcp-proxy.ts';
import { scenarioMutations } from '../scenario/capped-counter.ts';
import {
  type KafkaClients,
  kafkaClientsOf,
  type SecuredRedis,
  secureRedisAccess,
} from '../scenario/secured-clients.ts';
import { MAX_VALUE_BYTES, SHARD, type SoakRun } from './context.ts';
import type { FaultContext } from './faults.ts';
import { clusterNodeTimeoutMs, sinkCommandTimeoutMs } from './schedule.ts';

export interface SoakServers {
  /** The single server or the cluster the sink writes to: what the Redis faults act on. */
  redis: FaultContext['redis'];
  /** The producer's own Redis, for its durable seq counters. */
  counterServer: RedisServer;
  broker: KafkaBroker;
  kafka: KafkaClients;
  /** The Secrets Manager that holds the function's Redis password; absent when plaintext. */
  secured: SecuredRedis | undefined;
  /** How the connections to Redis are secured, for the report. */
  redisSecurity: string;
  admin: Admin;
  /** Between the sink and a single Redis (latency, dropped connections); none for a cluster. */
  proxy: TcpProxy | undefined;
  /** Redis as the run's own clients reach it. */
  redisUrl: string;
  /** Redis as the sink reaches it: through the proxy when there is one. */
  sinkUrl: string;
}

/** Redis with AOF, so that a restart "with its data" has the data: the single server or a cluster. */
async function startSinkRedis(
  run: SoakRun,
  aof: string[],
  resources: AsyncDisposableStack,
): Promise<FaultContext['redis']> {
  if (run.topology === 'single') {
    const server = await startRedisServer({ secure: run.secure, args: aof });
    resources.defer(() => server.dispose());
    return { kind: 'single', server };
  }
  const cluster = await startRedisCluster(3, {
    replicasPerMaster: 1,
    secure: run.secure,
    // Past the sink's 2 s command timeout a freeze fails commands; a failover needs 5 s.
    serverArgs: [
      ...aof,
      '--cluster-node-timeout',
      String(clusterNodeTimeoutMs),
      '--cluster-replica-validity-factor',
      '0',
    ],
  });
  resources.defer(() => cluster.dispose());
  return { kind: 'cluster', cluster };
}

/**
 * Servers: Redis (with AOF), the producer's own Redis, the broker, the Secrets Manager; then the
 * topic, and the proxy in front of a single Redis, which reports each chunk the sink sends to
 * `onSinkChunk`.
 */
export async function startServers(
  run: SoakRun,
  resources: AsyncDisposableStack,
  onSinkChunk: (bytes: number) => void,
): Promise<SoakServers> {
  const aof = ['--appendonly', 'yes', '--appendfsync', 'everysec'];
  const redis = await startSinkRedis(run, aof, resources);
  const target: RedisServer | RedisCluster = redis.kind === 'single' ? redis.server : redis.cluster;
  const counterServer = await startRedisServer({ secure: run.secure, args: aof });
  resources.defer(() => counterServer.dispose());
  const broker = await startKafkaBroker({ security: run.secure ? 'msk-iam' : 'plaintext' });
  resources.defer(() => broker.stop());
  const kafka = kafkaClientsOf(broker, 'plaintext, no authentication (--plaintext)');
  const secured = target.access ? await secureRedisAccess(target.access, resources) : undefined;
  const redisSecurity = secured?.security ?? 'plaintext, no authentication (--plaintext)';

  const admin = createAdmin({ clientId: 'seqguard-soak', ...kafka.connection });
  resources.defer(() => admin.close());
  await admin.createTopics({
    topics: [run.topic],
    partitions: run.settings.partitions,
    replicas: 1,
  });

  // The sink reaches a single Redis through the proxy (latency, dropped connections).
  let proxy: TcpProxy | undefined;
  if (redis.kind === 'single') {
    const started = await startTcpProxy({
      targetPort: redis.server.port,
      onClientChunk: onSinkChunk,
    });
    resources.defer(() => started.close());
    proxy = started;
  }
  const redisUrl = target.url;
  const sinkUrl =
    proxy && redis.kind === 'single'
      ? redisUrl.replace(`:${redis.server.port}`, `:${proxy.port}`)
      : redisUrl;
  return {
    redis,
    counterServer,
    broker,
    kafka,
    secured,
    redisSecurity,
    admin,
    proxy,
    redisUrl,
    sinkUrl,
  };
}

/** The function's settings: the soak's, in the deployed function's shape. */
export function functionEnvOf(run: SoakRun, servers: SoakServers): Record<string, string> {
  return {
    REDIS_URL: servers.sinkUrl,
    ...(servers.redis.kind === 'cluster' ? { SEQGUARD_REDIS_CLUSTER: 'true' } : {}),
    ...servers.secured?.functionEnv,
    ...servers.kafka.functionEnv,
    SEQGUARD_FORMAT: 'envelope',
    SEQGUARD_KEY_PREFIX: run.prefix,
    SEQGUARD_DEFAULT_SHARD: SHARD,
    SEQGUARD_CHUNK_SIZE: '100',
    SEQGUARD_REDIS_TIMEOUT_MS: String(sinkCommandTimeoutMs),
    SEQGUARD_STREAM_MAX_LEN: '200000',
    SEQGUARD_MAX_VALUE_BYTES: String(MAX_VALUE_BYTES),
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
}

export interface SoakClients {
  /** The sink's configuration as the soak's function reads it, Redis reached directly. */
  sink: SinkConfig;
  /** The run's own client: sampling and the verdict. */
  redis: RedisClient;
  /** check-drift's. */
  monitorRedis: RedisClient;
}

/**
 * The run's own Redis clients, configured as the function is (the soak's mutations registered,
 * so that check-drift's repairs decode and guard the events as the sink does), with their own
 * timeouts.
 */
export function openClients(
  servers: SoakServers,
  functionEnv: Record<string, string>,
  resources: AsyncDisposableStack,
): SoakClients {
  const sink = loadSinkConfig(
    { ...functionEnv, REDIS_URL: servers.redisUrl },
    { mutations: scenarioMutations },
  );
  const clientOf = (timeoutMs: number): RedisClient => {
    const client = createRedisClient({
      ...sink.redis,
      commandTimeoutMs: timeoutMs,
      ...servers.secured?.clientOptions,
      onError: () => {},
    });
    resources.defer(() => client.disconnect());
    return client;
  };
  return { sink, redis: clientOf(10_000), monitorRedis: clientOf(5_000) };
}
