/**
 * Starts the servers the integration suites share: a standalone redis-server, a 3-master Redis
 * Cluster and a single-node Kafka broker (KRaft), each on free ports. REDIS_URL,
 * REDIS_CLUSTER_URL and KAFKA_BROKERS point the suites at existing ones instead. Suites keep
 * apart by random shard names, key prefixes and topic names.
 *
 * By default they run in production's security shape, as the demo does: Redis and the cluster
 * over TLS with the app user (the deployed access string, for any key prefix) and an admin user,
 * the default user off, the app user's password in a local Secrets Manager (moto's server); the
 * broker's clients on its SASL_SSL listener with MSK IAM tokens. SEQGUARD_PLAINTEXT=1 is the fast
 * path: neither TLS nor authentication. Test files reach all of it through test/helpers/redis.ts
 * and test/helpers/kafka.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type SecureKafkaListener, startKafkaBroker } from '../../local/emulators/kafka/broker.ts';
import type { DeployedFunction } from '../../local/emulators/lambda/deployed-assets.ts';
import { lambdaRuntimeTools } from '../../local/emulators/lambda/runtime-tools.ts';
import { deployedApplyEvents } from '../../local/emulators/pipeline.ts';
import type { RedisAccess } from '../../local/emulators/redis/access.ts';
import { startRedisCluster } from '../../local/emulators/redis/cluster.ts';
import { startRedisServer } from '../../local/emulators/redis/server.ts';
import { type SecretsServer, startSecretsServer } from '../../local/emulators/secrets-server.ts';
import { plaintextRequested } from '../../local/emulators/security-mode.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Production's security shape (the default), or SEQGUARD_PLAINTEXT=1's fast path. */
    secure: boolean;
    redisUrl: string;
    redisClusterUrl: string;
    /** The CA and users of the suite's secure redis-server; null when plaintext or REDIS_URL. */
    redisAccess: RedisAccess | null;
    /** The same for the cluster; null when plaintext or REDIS_CLUSTER_URL. */
    redisClusterAccess: RedisAccess | null;
    /** The secret holding the redis-server's app user credentials (SEQGUARD_REDIS_AUTH_SECRET_ARN). */
    redisAuthSecretArn: string | null;
    /** The secret holding the cluster's app user credentials. */
    redisClusterAuthSecretArn: string | null;
    /** What an AWS SDK client needs to call the local Secrets Manager; null when not started. */
    secretsEnv: Record<string, string> | null;
    /** The bootstrap servers clients use: the SASL_SSL listener's when secure. */
    kafkaBootstrap: string;
    /**
     * The broker's plaintext listener, which a secure broker keeps for its own tools: for what
     * takes plaintext brokers only (the demo's KAFKA_BROKERS). The same as kafkaBootstrap when
     * plaintext.
     */
    kafkaPlaintextBootstrap: string;
    /** The broker's MSK IAM listener (CA, credentials); null when plaintext or KAFKA_BROKERS. */
    kafkaMskIam: SecureKafkaListener | null;
    /** A folder for the run's temp files (e.g. CDK synth output), removed when the run ends. */
    tempRoot: string;
    /** apply-events as `cdk deploy` bundles it, synthesized once for the pipelines' sandboxes. */
    deployedApplyEvents: DeployedFunction;
  }
}

export default async function setup(project: TestProject) {
  const secure = !plaintextRequested();
  const started = await Promise.allSettled([
    process.env.REDIS_URL ? undefined : startRedisServer({ secure }),
    process.env.REDIS_CLUSTER_URL ? undefined : startRedisCluster(3, { secure }),
    startKafkaBroker({ security: secure && !process.env.KAFKA_BROKERS ? 'msk-iam' : 'plaintext' }),
    secure && !(process.env.REDIS_URL && process.env.REDIS_CLUSTER_URL)
      ? startSecretsServer()
      : undefined,
  ] as const);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    // Stop what did start, so a failed setup leaves no server behind.
    for (const s of started) {
      if (s.status !== 'fulfilled' || !s.value) continue;
      const value = s.value;
      await ('dispose' in value ? value.dispose() : value.stop());
    }
    throw failed.reason;
  }
  const [server, cluster, kafka, secrets] = started.map(
    (s) => (s as PromiseFulfilledResult<unknown>).value,
  ) as [
    Awaited<ReturnType<typeof startRedisServer>> | undefined,
    Awaited<ReturnType<typeof startRedisCluster>> | undefined,
    Awaited<ReturnType<typeof startKafkaBroker>>,
    SecretsServer | undefined,
  ];
  const stopAll = async () => {
    await Promise.all([server?.dispose(), cluster?.dispose(), kafka.stop(), secrets?.stop()]);
  };
  const secretOf = async (access: RedisAccess | undefined) =>
    access && secrets
      ? secrets.createRedisAuthSecret({ username: access.username, password: access.password })
      : null;
  let secretArns: (string | null)[];
  try {
    secretArns = await Promise.all([secretOf(server?.access), secretOf(cluster?.access)]);
  } catch (error) {
    await stopAll();
    throw error;
  }
  project.provide('secure', secure);
  project.provide('redisUrl', process.env.REDIS_URL ?? (server?.url as string));
  project.provide('redisClusterUrl', process.env.REDIS_CLUSTER_URL ?? (cluster?.url as string));
  project.provide('redisAccess', server?.access ?? null);
  project.provide('redisClusterAccess', cluster?.access ?? null);
  project.provide('redisAuthSecretArn', secretArns[0] ?? null);
  project.provide('redisClusterAuthSecretArn', secretArns[1] ?? null);
  // One set of AWS credentials for the whole suite, as a Lambda function has one role: moto takes
  // any, the broker only its own.
  const credentials = kafka.mskIam?.credentials;
  project.provide(
    'secretsEnv',
    secrets
      ? {
          ...secrets.env,
          ...(credentials
            ? {
                AWS_ACCESS_KEY_ID: credentials.accessKeyId,
                AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
                AWS_REGION: credentials.region,
              }
            : {}),
        }
      : null,
  );
  project.provide('kafkaBootstrap', kafka.mskIam?.bootstrap ?? kafka.bootstrap);
  project.provide('kafkaPlaintextBootstrap', kafka.bootstrap);
  project.provide('kafkaMskIam', kafka.mskIam ? { ...kafka.mskIam } : null);
  const tempRoot = await mkdtemp(join(tmpdir(), 'seqguard-test-'));
  project.provide('tempRoot', tempRoot);
  try {
    // The pipelines run the deployed bundle under AWS's runtime (local/emulators/pipeline.ts):
    // one synth and one build of the emulator for every file.
    await lambdaRuntimeTools();
    project.provide('deployedApplyEvents', deployedApplyEvents(undefined, tempRoot));
  } catch (error) {
    await stopAll();
    throw error;
  }
  return async () => {
    await stopAll();
    await rm(tempRoot, { recursive: true, force: true });
  };
}
