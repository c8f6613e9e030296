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
import { appAccessString, redisUserName } from '../../core/layout/access-string.ts';
import { stateKey } from '../../core/layout/keys.ts';
import { applyChunk } from '../../core/redis/apply-batch.ts';
import type { RedisAccess } from '../../local/emulators/redis/access.ts';
import { type RedisServer, startRedisServer } from '../../local/emulators/redis/server.ts';
import { rebuildState } from '../../tools/rebuild/rebuild.ts';
import { guardedEvent, mutation } from '../helpers/events.ts';
import { lambdaContext, loadEvent } from '../helpers/lambda.ts';
import { handledBefore } from '../helpers/ledger.ts';
import { projectClient, type RedisTarget, rawRedis, useSecureRedis } from '../helpers/redis.ts';

// The suite's servers when it runs secure; servers of this file's own under SEQGUARD_PLAINTEXT=1.
const secure = useSecureRedis();

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
  authSecretArn: string;
}

const topologies: [string, () => Target][] = [
  ['a single node', () => secure().single as Target],
  ['a 3-master cluster', () => secure().cluster as Target],
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
    const { url, access, cluster: clustered, authSecretArn: secretArn } = target();
    const prefix = `s${randomBytes(4).toString('hex')}`;
    for (const [name, value] of Object.entries(secure().secretsEnv)) vi.stubEnv(name, value);
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

/**
 * The app user of a secure server has the deployed user's access string for its key prefix
 * (core/layout/access-string.ts, which the CDK stack gives the ElastiCache user):
 * the functions' commands on their own keys, nothing else. ElastiCache guide, "Role-Based Access
 * Control (RBAC)", "Specifying Permissions Using an Access String"
 * (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html); the categories:
 * https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/#command-categories
 */
describe("the app user's access string", () => {
  const prefix = 'bank';
  let server: RedisServer;
  let target: RedisTarget;
  let app: Redis;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedisServer({ secure: true, keyPrefix: prefix });
    target = { url: server.url, cluster: false, access: server.access as RedisAccess };
    app = rawRedis(target);
    admin = rawRedis(target, 'admin');
  });
  afterAll(async () => {
    app?.disconnect();
    admin?.disconnect();
    await server?.dispose();
  });

  it("is the deployed user's, for the server's key prefix", async () => {
    // Prepare: a user given the access string as ElastiCache is given it, to compare with.
    const reference = `reference-${randomBytes(3).toString('hex')}`;
    await admin.call('ACL', 'SETUSER', reference, ...appAccessString(prefix).split(' '));
    const rulesOf = async (user: string) => {
      const rules = (await admin.call('ACL', 'GETUSER', user)) as unknown[];
      const field = (name: string) => String(rules[rules.indexOf(name) + 1]);
      return { keys: field('keys'), channels: field('channels'), commands: field('commands') };
    };
    try {
      // Act
      const [app, deployed] = await Promise.all([rulesOf(redisUserName), rulesOf(reference)]);
      // Assess
      expect(app).toEqual(deployed);
      expect(app.keys).toBe('~{bank:* ~{bank~*');
    } finally {
      await admin.call('ACL', 'DELUSER', reference);
    }
  });

  it('refuses commands outside it (FLUSHALL, KEYS, CONFIG, CLIENT KILL, SHUTDOWN, ACL, SCRIPT FLUSH, FUNCTION), and the data stays', async () => {
    // Prepare
    const key = stateKey('vault', 'balances', prefix);
    await app.hset(key, 'alice', '100');
    // Act
    const refusals = await Promise.all(
      [
        ['FLUSHALL'],
        ['FLUSHDB'],
        ['KEYS', '*'],
        ['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru'],
        ['CLIENT', 'KILL', 'TYPE', 'normal'],
        ['BGSAVE'],
        ['SHUTDOWN', 'NOSAVE'],
        ['ACL', 'SETUSER', redisUserName, '+@all'],
        ['SCRIPT', 'FLUSH'],
        ['SCRIPT', 'KILL'],
        ['SCRIPT', 'DEBUG', 'YES'],
        [
          'FUNCTION',
          'LOAD',
          "#!lua name=kept\nredis.register_function('f', function() return 1 end)",
        ],
        ['FUNCTION', 'FLUSH'],
        ['FCALL', 'f', '0'],
      ].map(([command, ...args]) =>
        app.call(command as string, ...args).then(
          () => `${command} ran`,
          (error: Error) => error.message,
        ),
      ),
    );
    // Assess
    for (const refusal of refusals) expect(refusal).toMatch(/^NOPERM/);
    expect(await app.hget(key, 'alice')).toBe('100');
    expect(await admin.call('FUNCTION', 'LIST')).toEqual([]);
    expect(await admin.config('GET', 'maxmemory-policy')).toEqual([
      'maxmemory-policy',
      'noeviction',
    ]);
  });

  it('refuses keys outside its prefix, also inside a script', async () => {
    // Act
    const outside = await Promise.all([
      app.set(stateKey('vault', 'balances', 'sg'), '1').catch((error: Error) => error.message),
      app.get('plain-key').catch((error: Error) => error.message),
      app
        .eval("return redis.call('GET', KEYS[1])", 1, '{sg~registry}:shards')
        .catch((error: Error) => error.message),
    ]);
    // Assess
    for (const refusal of outside) expect(refusal).toMatch(/NOPERM.*key/i);
  });

  it('lets the functions do their work: the guard, the ledger, the rebuild (MULTI/EXEC) and WAIT', async () => {
    // Prepare
    const redis = projectClient(target);
    const options = { firstSeq: '1', streamMaxLen: 100, streamMaxAgeMs: 0, keyPrefix: prefix };
    const event = (seq: number, offset: number) =>
      guardedEvent({
        shard: 'vault',
        seq,
        offset,
        mutation: mutation('hincrby', { key: 'coins', field: 'bob', delta: '5' }),
      });
    try {
      // Act
      const applied = await applyChunk(redis, 'vault', [event(1, 0), event(2, 1)], options);
      await app.hset(stateKey('vault', 'coins', prefix), 'bob', '999'); // a write around it
      const rebuilt = await rebuildState(redis, {
        shard: 'vault',
        name: 'coins',
        keyPrefix: prefix,
      });
      const waited = await redis.wait(0, 10);
      // Assess
      expect(applied.map((o) => o.kind)).toEqual(['applied', 'applied']);
      expect(rebuilt).toMatchObject({ kind: 'rebuilt', changedTargets: 1 });
      expect(await app.hget(stateKey('vault', 'coins', prefix), 'bob')).toBe('10');
      expect(waited).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it("keeps the guard's writes across a restart from its append-only file", async () => {
    // Prepare: script effects reach the AOF as MULTI/EXEC, which Redis 7.0 replays as the
    // default user (off here), re-checking that user's rights (redis/redis#14541).
    const durable = await startRedisServer({
      secure: true,
      keyPrefix: prefix,
      args: ['--appendonly', 'yes', '--appendfsync', 'always'],
    });
    const durableTarget = {
      url: durable.url,
      cluster: false,
      access: durable.access as RedisAccess,
    };
    const redis = projectClient(durableTarget);
    const options = { firstSeq: '1', streamMaxLen: 100, streamMaxAgeMs: 0, keyPrefix: prefix };
    try {
      const applied = await applyChunk(
        redis,
        'vault',
        [
          guardedEvent({
            shard: 'vault',
            seq: 1,
            offset: 0,
            mutation: mutation('hincrby', { key: 'coins', field: 'carol', delta: '7' }),
          }),
        ],
        options,
      );
      expect(applied.map((o) => o.kind)).toEqual(['applied']);
      // Act: a crash, then a start from the append-only file
      redis.disconnect();
      await durable.stop();
      await durable.start();
      // Assess
      const reader = rawRedis(durableTarget);
      try {
        expect(await reader.hget(stateKey('vault', 'coins', prefix), 'carol')).toBe('7');
      } finally {
        reader.disconnect();
      }
    } finally {
      redis.disconnect();
      await durable.dispose();
    }
  });

  it('leaves server management to the admin user', async () => {
    // Act
    const flushed = await admin.flushall();
    // Assess
    expect(flushed).toBe('OK');
    expect(await admin.dbsize()).toBe(0);
  });
});
