/**
 * The local Redis in ElastiCache's shape (in-transit encryption and RBAC): TLS only, an ACL
 * user with a password, the `default` user off; a single node and a 3-master cluster. Every
 * way in without the CA, the user and its password is refused; the apply-events function gets
 * in the way it does in AWS: at cold start it reads the password from the Secrets Manager API
 * (moto's server here) by the secret's ARN, trusts the CA in SEQGUARD_REDIS_CA_FILE, and applies
 * a batch over TLS. ElastiCache: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions, ReplyError } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { stateKey } from '../../functions/shared/redis/keys.ts';
import {
  type RedisAccess,
  type RedisCluster,
  type RedisServer,
  startRedisCluster,
  startRedisServer,
} from '../../local/redis-server.ts';
import { type SecretsServer, startSecretsServer } from '../../local/secrets-server.ts';
import { lambdaContext, loadEvent } from '../helpers/lambda.ts';
import { handledBefore } from '../helpers/ledger.ts';

let server: RedisServer;
let cluster: RedisCluster;
let secrets: SecretsServer;

beforeAll(async () => {
  const started = await Promise.allSettled([
    startRedisServer({ secure: true }),
    startRedisCluster(3, { secure: true }),
    startSecretsServer(),
  ] as const);
  const [single, clustered, secretsServer] = started;
  if (single.status === 'fulfilled') server = single.value;
  if (clustered.status === 'fulfilled') cluster = clustered.value;
  if (secretsServer.status === 'fulfilled') secrets = secretsServer.value;
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
});

afterAll(async () => {
  await Promise.all([server?.dispose(), cluster?.dispose(), secrets?.stop()]);
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

/** What a topology gives the tests: a node to knock on, and how the function reaches it all. */
interface Target {
  url: string;
  port: number;
  access: RedisAccess;
  cluster: boolean;
}

const topologies: [string, () => Target][] = [
  [
    'a single node',
    () => ({
      url: server.url,
      port: server.port,
      access: server.access as RedisAccess,
      cluster: false,
    }),
  ],
  [
    'a 3-master cluster',
    () => ({
      url: cluster.url,
      port: (cluster.nodes[0] as RedisServer).port,
      access: cluster.access as RedisAccess,
      cluster: true,
    }),
  ],
];

/**
 * What one connection to a node with `options` ends in: the error that stopped it (the server's
 * refusal or the TLS handshake's), or `connected` when it could run a command.
 */
async function attempt(port: number, options: RedisOptions): Promise<Error | 'connected'> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 5_000,
    ...options,
  });
  const errors: Error[] = [];
  client.on('error', (error: Error) => errors.push(error));
  try {
    await client.connect();
    await client.ping();
    return 'connected';
  } catch (error) {
    // The socket's own error (a TLS failure) says more than "Connection is closed".
    return errors[0] ?? (error as Error);
  } finally {
    client.disconnect();
  }
}

function trusting(access: RedisAccess): { ca: Buffer } {
  return { ca: readFileSync(access.caFile) };
}

describe.each(topologies)('a secure local Redis: %s', (_name, target) => {
  it('accepts the ACL user with its password over TLS, trusting the local CA', async () => {
    // Prepare
    const { port, access } = target();
    // Act
    const outcome = await attempt(port, {
      tls: trusting(access),
      username: access.username,
      password: access.password,
    });
    // Assess: the refusals below are refusals of what is missing, not of everything.
    expect(outcome).toBe('connected');
  });

  it('refuses a plaintext connection to its TLS port', async () => {
    // Prepare
    const { port, access } = target();
    // Act
    const outcome = await attempt(port, { username: access.username, password: access.password });
    // Assess: the server drops the connection at the first bytes that are no TLS handshake;
    // no Redis reply ever comes back over plaintext.
    expect(outcome).toBeInstanceOf(Error);
    expect(outcome).not.toBeInstanceOf(ReplyError);
    expect((outcome as Error).message).toMatch(/ECONNRESET|Connection is closed/);
  });

  it('refuses a TLS connection without credentials (the default user is off)', async () => {
    // Prepare
    const { port, access } = target();
    // Act
    const outcome = await attempt(port, { tls: trusting(access) });
    // Assess
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/NOAUTH/);
  });

  it("refuses the user's password for the default user (AUTH without a user name)", async () => {
    // Prepare
    const { port, access } = target();
    // Act
    const outcome = await attempt(port, { tls: trusting(access), password: access.password });
    // Assess
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/WRONGPASS/);
  });

  it('refuses a wrong password', async () => {
    // Prepare
    const { port, access } = target();
    // Act
    const outcome = await attempt(port, {
      tls: trusting(access),
      username: access.username,
      password: `${access.password}-wrong`,
    });
    // Assess
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/WRONGPASS/);
  });

  it('is refused by a client that does not trust the local CA', async () => {
    // Prepare
    const { port, access } = target();
    // Act: Node's bundled CAs only, as a client that was not given SEQGUARD_REDIS_CA_FILE.
    const outcome = await attempt(port, {
      tls: {},
      username: access.username,
      password: access.password,
    });
    // Assess
    expect(outcome).toBeInstanceOf(Error);
    expect(outcome).toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  });

  it('runs apply-events from a cold start: the password from the Secrets Manager API, a batch over TLS', async () => {
    // Prepare
    const { url, access, cluster: clustered } = target();
    const secretArn = await secrets.createRedisAuthSecret({
      username: access.username,
      password: access.password,
    });
    const prefix = `s${randomBytes(4).toString('hex')}`;
    for (const [name, value] of Object.entries(secrets.env)) vi.stubEnv(name, value);
    vi.stubEnv('AWS_SESSION_TOKEN', undefined);
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('REDIS_URL', url);
    vi.stubEnv('SEQGUARD_REDIS_CLUSTER', String(clustered));
    vi.stubEnv('SEQGUARD_REDIS_AUTH_SECRET_ARN', secretArn);
    vi.stubEnv('SEQGUARD_REDIS_CA_FILE', access.caFile);
    vi.stubEnv('SEQGUARD_KEY_PREFIX', prefix);
    vi.stubEnv('SEQGUARD_FORMAT', 'mapped');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const nodeOptions = {
      tls: trusting(access),
      username: access.username,
      password: access.password,
    };
    const { hostname, port } = new URL(url);
    const raw = clustered
      ? new Cluster([{ host: hostname, port: Number(port) }], { redisOptions: nodeOptions })
      : new Redis({ host: hostname, port: Number(port), ...nodeOptions });
    const event = await loadEvent('msk-seed-format');
    try {
      await handledBefore(raw, prefix, event);
      // Act
      const { handler } = await import('../../functions/apply-events/handler.ts');
      const response = await handler(event, lambdaContext());
      // Assess
      expect(response).toEqual({ batchItemFailures: [] });
      expect(await raw.zscore(stateKey('default', 'leaderboard', prefix), 'p-1')).toBe('15');
    } finally {
      raw.disconnect();
    }
  });
});
