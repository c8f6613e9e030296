/**
 * Every Redis connection of the tests, in the suite's security shape (global-setup.ts): over
 * TLS as the app user (the deployed access string) or, for what only an operator may do
 * (FLUSHALL, KEYS, DUMP/RESTORE, CONFIG SET, CLIENT KILL, CLUSTER KEYSLOT, …), as the admin user; plaintext and
 * unauthenticated under SEQGUARD_PLAINTEXT=1. Functions built from environment variables get
 * `redisEnv()`: the URL, the CA file and the ARN of the secret their cold start reads the
 * password from, through the Secrets Manager API.
 */
import { readFileSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { readSecretString, withRedisAuthSecret } from '../../core/redis/auth-secret.ts';
import {
  createRedisClient,
  type RedisClient,
  type RedisConnectionOptions,
} from '../../core/redis/client.ts';
import type { RedisAccess } from '../../local/emulators/redis/access.ts';
import {
  type RedisCluster,
  type RedisClusterOptions,
  startRedisCluster,
} from '../../local/emulators/redis/cluster.ts';
import {
  type RedisServer,
  type RedisServerOptions,
  startRedisServer,
} from '../../local/emulators/redis/server.ts';
import {
  createRedisAuthSecret,
  type SecretsServer,
  startSecretsServer,
} from '../../local/emulators/secrets-server.ts';

/** Whether the suites run in production's security shape (the default) or plaintext. */
export function suiteIsSecure(): boolean {
  return inject('secure');
}

/** A Redis to connect to: where it is, and what it takes to get in. */
export interface RedisTarget {
  /** redis:// or rediss://, without credentials. */
  url: string;
  cluster: boolean;
  /** The CA and users of a secure server; absent for a plaintext one. */
  access?: RedisAccess;
  /** The secret that holds the app user's credentials (SEQGUARD_REDIS_AUTH_SECRET_ARN). */
  authSecretArn?: string;
}

/** The suite's shared redis-server, or its 3-master cluster. */
export function suiteTarget(kind: 'single' | 'cluster' = 'single'): RedisTarget {
  const single = kind === 'single';
  const access = inject(single ? 'redisAccess' : 'redisClusterAccess');
  const authSecretArn = inject(single ? 'redisAuthSecretArn' : 'redisClusterAuthSecretArn');
  return {
    url: inject(single ? 'redisUrl' : 'redisClusterUrl'),
    cluster: !single,
    ...(access ? { access } : {}),
    ...(authSecretArn ? { authSecretArn } : {}),
  };
}

/**
 * A redis-server of a test file's own (to stop, restart or freeze), in the suite's shape. Its app
 * user may touch any key prefix, like the shared server's.
 */
export function startTestRedisServer(options: Omit<RedisServerOptions, 'secure'> = {}) {
  return startRedisServer({ ...options, secure: suiteIsSecure() });
}

/** A cluster of a test file's own, in the suite's shape. */
export function startTestRedisCluster(
  masters = 3,
  options: Omit<RedisClusterOptions, 'secure'> = {},
): Promise<RedisCluster> {
  return startRedisCluster(masters, { ...options, secure: suiteIsSecure() });
}

/**
 * The target of a file's own server or cluster; when secure, a secret for its app user is made
 * in the suite's Secrets Manager.
 */
export async function targetOf(server: RedisServer | RedisCluster): Promise<RedisTarget> {
  const cluster = 'nodes' in server;
  const secretsEnv = inject('secretsEnv');
  if (!server.access) return { url: server.url, cluster };
  if (!secretsEnv) throw new Error('a secure test server needs the suite Secrets Manager');
  const { username, password } = server.access;
  return {
    url: server.url,
    cluster,
    access: server.access,
    authSecretArn: await createRedisAuthSecret(secretsEnv, { username, password }),
  };
}

export type RedisRole = 'app' | 'admin';

/** ioredis options for one node of `access`'s servers, as the app or the admin user. */
export function nodeOptions(access: RedisAccess | undefined, as: RedisRole = 'app'): RedisOptions {
  if (!access) return {};
  const user = as === 'admin' ? access.admin : access;
  return {
    tls: { ca: readFileSync(access.caFile) },
    username: user.username,
    password: user.password,
  };
}

/** A plain ioredis client of a single server (not the project's client). */
export function rawRedis(target: RedisTarget, as: RedisRole = 'app'): Redis {
  const { hostname, port } = new URL(target.url);
  return new Redis({ host: hostname, port: Number(port), ...nodeOptions(target.access, as) });
}

/** A plain ioredis cluster client. */
export function rawCluster(target: RedisTarget, as: RedisRole = 'app'): Cluster {
  const { hostname, port } = new URL(target.url);
  return new Cluster([{ host: hostname, port: Number(port) }], {
    redisOptions: nodeOptions(target.access, as),
  });
}

/** A plain client of either kind. */
export function rawClient(target: RedisTarget, as: RedisRole = 'app'): Redis | Cluster {
  return target.cluster ? rawCluster(target, as) : rawRedis(target, as);
}

/** A plain client of one node of a server or cluster of a file's own, e.g. to stop or inspect it. */
export function nodeClient(node: RedisServer, as: RedisRole = 'admin'): Redis {
  return new Redis({ host: '127.0.0.1', port: node.port, ...nodeOptions(node.access, as) });
}

/** The project client's options for the app user's login (and the CA) to `target`. */
export function appLogin(
  target: RedisTarget,
): Pick<RedisConnectionOptions, 'tlsCaFile' | 'username' | 'password'> {
  if (!target.access) return {};
  const { caFile, username, password } = target.access;
  return { tlsCaFile: caFile, username, password };
}

/** The project's client (scripts defined) as the app user, given its credentials directly. */
export function projectClient(
  target: RedisTarget,
  options: Partial<Omit<RedisConnectionOptions, 'url' | 'cluster'>> = {},
): RedisClient {
  return createRedisClient({
    url: target.url,
    cluster: target.cluster,
    commandTimeoutMs: 5_000,
    ...appLogin(target),
    ...options,
  });
}

/**
 * `target.url` with the app user's name and password in it, for what takes a URL only (the
 * demo's REDIS_URL); the URL itself when plaintext.
 */
export function urlWithLogin(target: RedisTarget): string {
  if (!target.access) return target.url;
  const url = new URL(target.url);
  url.username = encodeURIComponent(target.access.username);
  url.password = encodeURIComponent(target.access.password);
  return url.toString();
}

/**
 * The environment a function (or the CLI) needs to reach `target` as it reaches ElastiCache:
 * REDIS_URL, SEQGUARD_REDIS_CLUSTER and, when secure, the CA file, the ARN of the secret its
 * cold start reads, and the local Secrets Manager's endpoint and credentials.
 */
export function redisEnv(
  target: RedisTarget = suiteTarget(),
  secretsEnv: Record<string, string> | null = inject('secretsEnv'),
): Record<string, string> {
  return {
    REDIS_URL: target.url,
    SEQGUARD_REDIS_CLUSTER: String(target.cluster),
    ...(target.access ? { SEQGUARD_REDIS_CA_FILE: target.access.caFile } : {}),
    ...(target.authSecretArn && secretsEnv
      ? { SEQGUARD_REDIS_AUTH_SECRET_ARN: target.authSecretArn, ...secretsEnv }
      : {}),
  };
}

/**
 * The project's client for connection options loaded from `redisEnv()` (loadSinkConfig), as a
 * function's cold start makes it: the password read from the Secrets Manager API by the secret's
 * ARN. The local Secrets Manager's variables are set only around the call: set for the whole
 * worker, AWS_ENDPOINT_URL_SECRETS_MANAGER would send other suites' Secrets Manager calls (the
 * LocalStack test's) to moto.
 */
export async function coldStartClient(options: RedisConnectionOptions): Promise<RedisClient> {
  const secretsEnv = inject('secretsEnv');
  const connection = await withRedisAuthSecret(options, async (arn) => {
    const saved = Object.keys(secretsEnv ?? {}).map((name) => [name, process.env[name]] as const);
    Object.assign(process.env, secretsEnv);
    try {
      return await readSecretString(arn);
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
  return createRedisClient(connection);
}

/**
 * A seqguard client (scripts defined), a plain client as the app user and one as the admin user
 * on the suite's standalone Redis, for a test file; all are closed after the file's tests.
 */
export function suiteRedis(commandTimeoutMs = 5_000): {
  redis: RedisClient;
  raw: Redis;
  admin: Redis;
} {
  const target = suiteTarget();
  const redis = projectClient(target, { commandTimeoutMs });
  const raw = rawRedis(target);
  const admin = rawRedis(target, 'admin');
  afterAll(() => {
    redis.disconnect();
    raw.disconnect();
    admin.disconnect();
  });
  return { redis, raw, admin };
}

/** A secure single server and cluster, with their auth secrets, and the Secrets Manager's env. */
export interface SecureRedis {
  single: RedisTarget & { port: number };
  cluster: RedisTarget & { port: number };
  /** What an AWS SDK client needs to call the Secrets Manager that holds their secrets. */
  secretsEnv: Record<string, string>;
}

/**
 * For the files about the secure shape itself (test/integration/redis-secure.test.ts,
 * secure-pipeline.test.ts): the suite's servers when the suite is secure; under
 * SEQGUARD_PLAINTEXT=1 a secure server, cluster and Secrets Manager of the file's own, stopped
 * after it.
 */
export function useSecureRedis(): () => SecureRedis {
  let secure: SecureRedis;
  const own: { dispose(): Promise<void> }[] = [];
  beforeAll(async () => {
    if (suiteIsSecure() && inject('redisAccess') && inject('redisClusterAccess')) {
      const portOf = (url: string) => Number(new URL(url).port);
      const single = suiteTarget('single');
      const cluster = suiteTarget('cluster');
      secure = {
        single: { ...single, port: portOf(single.url) },
        cluster: { ...cluster, port: portOf(cluster.url) },
        secretsEnv: inject('secretsEnv') as Record<string, string>,
      };
      return;
    }
    const started = await Promise.allSettled([
      startRedisServer({ secure: true }),
      startRedisCluster(3, { secure: true }),
      startSecretsServer(),
    ] as const);
    for (const s of started) {
      if (s.status !== 'fulfilled') continue;
      const value = s.value;
      own.push('dispose' in value ? value : { dispose: () => value.stop() });
    }
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [server, cluster, secrets] = started.map(
      (s) => (s as PromiseFulfilledResult<unknown>).value,
    ) as [RedisServer, RedisCluster, SecretsServer];
    const withSecret = async (
      url: string,
      port: number,
      isCluster: boolean,
      access: RedisAccess,
    ) => ({
      url,
      port,
      cluster: isCluster,
      access,
      authSecretArn: await secrets.createRedisAuthSecret({
        username: access.username,
        password: access.password,
      }),
    });
    secure = {
      single: await withSecret(server.url, server.port, false, server.access as RedisAccess),
      cluster: await withSecret(
        cluster.url,
        (cluster.nodes[0] as RedisServer).port,
        true,
        cluster.access as RedisAccess,
      ),
      secretsEnv: { ...secrets.env },
    };
  }, 240_000);
  afterAll(async () => {
    await Promise.all(own.splice(0).map((o) => o.dispose()));
  });
  return () => secure;
}
