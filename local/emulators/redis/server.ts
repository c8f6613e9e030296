/**
 * Real redis-server processes for tests: one standalone server, or a cluster of masters (with
 * replicas if asked) made with `redis-cli --cluster create`. Nothing is persisted; each lives in a temp folder, removed
 * with the server, also when the Node process that started it dies without stopping it.
 *
 * `secure: true` gives them ElastiCache's shape (in-transit encryption with RBAC): TLS only, no
 * plaintext port; the app user with a password and the deployed user's access string (its key
 * prefix and command categories, core/layout/access-string.ts), an admin user for
 * replication, cluster creation and server management; the `default` user switched off, so a
 * client without credentials is refused. The nodes of a cluster, and a replica and its master, talk TLS
 * to each other too. Redis: https://redis.io/docs/latest/operate/oss_and_stack/management/security/encryption/
 * and https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/; ElastiCache:
 * https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';
import { anyKeyPrefix, appAccessString, redisUserName } from '../../../core/index.ts';
import { MissingPrerequisiteError, RedisServerError } from '../errors.ts';
import { guardAgainstOrphan } from '../orphan-guard.ts';
import { freePort } from '../ports.ts';
import { localCertificates } from '../tls-certificates.ts';

const execFileAsync = promisify(execFile);

const INSTALL_HINT =
  'install it with: apt-get install redis-server redis-tools, or set REDIS_URL to a Redis you run';

/** A user name and its password. */
export interface RedisUser {
  readonly username: string;
  readonly password: string;
}

/**
 * How a client gets into a secure server: its CA, and the ACL users. Every node of a cluster has
 * the same users, as every node of an ElastiCache cluster has its user group's users.
 */
export interface RedisAccess extends RedisUser {
  /** The CA certificate (PEM) that signed the server's certificate: what clients must trust. */
  readonly caFile: string;
  /**
   * The app user's ACL rules: the deployed user's access string (`appAccessString()`), so the
   * functions are held to exactly what ElastiCache lets them do.
   */
  readonly accessString: string;
  /**
   * A user that may do anything, for what no function does: replication (`masteruser`), cluster
   * creation and inspection, and the tests' server management (FLUSHALL, KEYS, CONFIG SET, …).
   * A deployment has no such user in its user group; ElastiCache manages the servers itself.
   */
  readonly admin: RedisUser;
}

const ADMIN_USERNAME = `${redisUserName}-admin`;

async function newAccess(keyPrefix: string): Promise<RedisAccess> {
  const { caFile } = await localCertificates();
  return {
    caFile,
    username: redisUserName,
    password: randomBytes(24).toString('hex'),
    accessString: appAccessString(keyPrefix),
    admin: { username: ADMIN_USERNAME, password: randomBytes(24).toString('hex') },
  };
}

/**
 * The server arguments and ACL file of a secure server. Clients present no certificate
 * (`tls-auth-clients no`): ElastiCache does not use client certificates, the password is the
 * credential.
 */
async function secureArgs(port: number, dir: string, access: RedisAccess): Promise<string[]> {
  const { certFile, keyFile, caFile } = await localCertificates();
  const aclFile = join(dir, 'users.acl');
  // A user named in an ACL file starts from nothing: `default` here has no password and is off,
  // so no client can be it. https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/#use-an-external-acl-file
  // It keeps every right all the same: Redis 7.0 replays an append-only file as the default
  // user, and its EXEC re-checks that user's rights, so with none every script's effects (stored
  // as MULTI/EXEC) vanish on reload (redis/redis#14541, fixed in #14545; valkey-io/valkey#3983).
  await writeFile(
    aclFile,
    [
      'user default off ~* &* +@all',
      `user ${access.username} ${access.accessString} >${access.password}`,
      `user ${access.admin.username} on >${access.admin.password} ~* &* +@all`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    certFile,
    '--tls-key-file',
    keyFile,
    '--tls-ca-cert-file',
    caFile,
    '--tls-auth-clients',
    'no',
    '--tls-replication',
    'yes',
    // A replica logs in to its master as the admin user (the default user is off there, and
    // replication needs SYNC/PSYNC, which the app user may not run).
    '--masteruser',
    access.admin.username,
    '--masterauth',
    access.admin.password,
    '--aclfile',
    aclFile,
  ];
}

/** ioredis options to manage a server directly (as the admin user when it is secure). */
function nodeOptions(port: number, access: RedisAccess | undefined): RedisOptions {
  return {
    port,
    host: '127.0.0.1',
    ...(access
      ? {
          tls: { ca: readFileSync(access.caFile) },
          username: access.admin.username,
          password: access.admin.password,
        }
      : {}),
  };
}

/** redis-cli (as the admin user when secure), with a clear error when it is not installed. */
async function redisCli(args: string[], access?: RedisAccess): Promise<{ stdout: string }> {
  try {
    return await execFileAsync(
      'redis-cli',
      access
        ? [
            '--tls',
            '--cacert',
            access.caFile,
            '--user',
            access.admin.username,
            '--no-auth-warning',
            ...args,
          ]
        : args,
      // The password through the environment, not the command line that `ps` shows.
      access ? { env: { ...process.env, REDISCLI_AUTH: access.admin.password } } : {},
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new MissingPrerequisiteError(`redis-cli is not on PATH; ${INSTALL_HINT}`, {
        cause: error,
      });
    throw error;
  }
}

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:<port>, or rediss:// when secure (never with credentials in it). */
  readonly url: string;
  /** The CA and the ACL user of a secure server; absent for a plaintext one. */
  readonly access?: RedisAccess;
  /** Its working folder: a snapshot (dump.rdb) written there is loaded by the next start(). */
  readonly dir: string;
  /** Stops the server (SIGKILL: like a crash, nothing is saved). */
  stop(): Promise<void>;
  /**
   * Starts it again on the same port: empty, or from the snapshot in `dir` if there is one (or
   * from its append-only file when started with `--appendonly yes`). `args` are added for this
   * start only, after the server's own, so they win (redis-server keeps the last of a setting).
   */
  start(options?: { args?: readonly string[] }): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers, nothing is lost. */
  freeze(): void;
  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void;
  /** Stops it for good and removes its folder. */
  dispose(): Promise<void>;
}

async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
  signal?: AbortSignal,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !signal?.aborted) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  if (signal?.aborted) return;
  throw new RedisServerError(`timed out waiting for ${what}`);
}

async function ping(port: number, access: RedisAccess | undefined): Promise<boolean> {
  const client = new Redis({
    ...nodeOptions(port, access),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {}); // refused while the server starts: the caller polls again
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    client.disconnect();
  }
}

export interface RedisServerOptions {
  /** ElastiCache's shape: TLS only, an ACL user with a password, `default` off. */
  secure?: boolean;
  /**
   * The SEQGUARD_KEY_PREFIX whose keys the app user of a secure server may touch; by default
   * any prefix (`anyKeyPrefix`), for servers shared by tests with random prefixes.
   */
  keyPrefix?: string;
  /**
   * The CA and users of another secure server, to have the same ones (implies `secure`): a
   * replica started with `--replicaof` logs in to its master as the master's admin user.
   */
  access?: RedisAccess;
  /** More redis-server arguments. */
  args?: string[];
}

export async function startRedisServer({
  secure = false,
  keyPrefix = anyKeyPrefix,
  access,
  args = [],
}: RedisServerOptions = {}): Promise<RedisServer> {
  return startNode(args, access ?? (secure ? await newAccess(keyPrefix) : undefined));
}

async function startNode(
  extraArgs: string[],
  access: RedisAccess | undefined,
): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'seqguard-redis-'));
  let child: ChildProcess | undefined;

  const logFile = join(dir, 'redis.log');
  let releaseGuard = () => {};

  const start = async ({ args: onceArgs = [] }: { args?: readonly string[] } = {}) => {
    const args = [
      ...(access ? await secureArgs(port, dir, access) : ['--port', String(port)]),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    const spawned = spawn(
      'redis-server',
      [...args, '--dir', dir, '--logfile', logFile, ...extraArgs, ...onceArgs],
      { stdio: 'ignore' },
    );
    child = spawned;
    const failed = new Promise<never>((_, reject) => {
      spawned.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'ENOENT'
            ? new MissingPrerequisiteError(`redis-server is not on PATH; ${INSTALL_HINT}`)
            : new RedisServerError(`redis-server could not be started: ${error.message}`),
        ),
      );
      spawned.once('exit', async (code, signal) => {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        const tail = log.trimEnd().split('\n').slice(-10).join('\n');
        reject(
          new RedisServerError(
            `redis-server on port ${port} exited (${signal ?? `code ${code}`})${tail ? `:\n${tail}` : ''}`,
          ),
        );
      });
    });
    failed.catch(() => {});
    if (spawned.pid !== undefined) releaseGuard = guardAgainstOrphan(spawned, dir);
    // The wait ends when the server answers, or as soon as it could not start.
    const gaveUp = new AbortController();
    failed.catch(() => gaveUp.abort());
    await Promise.race([
      waitUntil(() => ping(port, access), `redis-server on port ${port}`, 20_000, gaveUp.signal),
      failed,
    ]);
  };
  const stop = async () => {
    const current = child;
    child = undefined;
    if (!current) return;
    if (current.exitCode === null && current.signalCode === null && current.pid !== undefined) {
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.kill('SIGKILL');
      await exited;
    }
    releaseGuard();
  };

  try {
    await start();
  } catch (error) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `${access ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    ...(access ? { access } : {}),
    dir,
    start,
    stop,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  /** A node's URL (redis:// or rediss://), without credentials: clients discover the rest. */
  readonly url: string;
  /** The CA and the ACL user of a secure cluster (the same on every node); absent for plaintext. */
  readonly access?: RedisAccess;
  readonly nodes: RedisServer[];
  /** The master serving `key`'s slot now, and its replicas (as the cluster sees them). */
  ownersOf(key: string): Promise<{ master: RedisServer; replicas: RedisServer[] }>;
  /**
   * Waits until `replica` has taken over as a master and the cluster, without the nodes in
   * `gone` (stopped), serves every slot again.
   */
  waitForPromotion(replica: RedisServer, gone: readonly RedisServer[]): Promise<void>;
  /**
   * Starts a stopped node again, as a failed node is replaced: it rejoins as a replica of the
   * node that took over its slots, and this waits until it is in sync.
   */
  rejoin(node: RedisServer): Promise<void>;
  /**
   * Moves the slot of `key` from the master serving it to the master `to`, while clients go on
   * using it, as resharding does (https://redis.io/docs/latest/commands/cluster-setslot/): the
   * slot is marked importing and migrating, its keys are moved with MIGRATE in batches (clients
   * meanwhile get ASK redirections, or TRYAGAIN for a command whose keys are split), then every
   * node is told the new owner. Resolves with the slot and how many keys moved.
   */
  migrateSlotOf(key: string, to: RedisServer): Promise<{ slot: number; keys: number }>;
  dispose(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Replicas of each master: 0 (the default) for masters only. */
  replicasPerMaster?: number;
  /** More redis-server arguments for every node. */
  serverArgs?: string[];
  /** ElastiCache's shape on every node, the cluster bus and replication over TLS too. */
  secure?: boolean;
  /** As for a single server: the prefix the app user may touch, by default any. */
  keyPrefix?: string;
}

async function command(server: RedisServer, args: string[]): Promise<unknown> {
  const client = new Redis({ ...nodeOptions(server.port, server.access), lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(args[0] as string, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

/** A cluster of `masters` masters, each with `replicasPerMaster` replicas, all slots covered. */
export async function startRedisCluster(
  masters = 3,
  {
    replicasPerMaster = 0,
    serverArgs = [],
    secure = false,
    keyPrefix = anyKeyPrefix,
  }: RedisClusterOptions = {},
): Promise<RedisCluster> {
  const access = secure ? await newAccess(keyPrefix) : undefined;
  const started = await Promise.allSettled(
    Array.from({ length: masters * (1 + replicasPerMaster) }, () =>
      startNode(
        [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
          // A dead master must not take the other masters' slots down with it.
          '--cluster-require-full-coverage',
          'no',
          // The cluster bus (port + 10000) over TLS as well; with it, the nodes also announce
          // their TLS port to clients (MOVED, CLUSTER SLOTS).
          ...(access ? ['--tls-cluster', 'yes'] : []),
          ...serverArgs,
        ],
        access,
      ),
    ),
  );
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const byPort = (port: number) => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new RedisServerError(`no node of this cluster listens on ${port}`);
    return node;
  };
  const cluster: RedisCluster = {
    url: nodes[0]?.url as string,
    ...(access ? { access } : {}),
    nodes,
    async ownersOf(key) {
      for (const node of nodes) {
        // CLUSTER SLOTS: [first, last, [host, port, id] of the master, ...its replicas].
        const slot = Number(await command(node, ['cluster', 'keyslot', key]).catch(() => -1));
        if (slot < 0) continue;
        const ranges = (await command(node, ['cluster', 'slots'])) as [
          number,
          number,
          [string, number, string],
          ...[string, number, string][],
        ][];
        const range = ranges.find(([first, last]) => first <= slot && slot <= last);
        if (!range) continue;
        const [, , master, ...replicas] = range;
        return { master: byPort(master[1]), replicas: replicas.map((r) => byPort(r[1])) };
      }
      throw new RedisServerError(`no node of the cluster knows who serves "${key}"`);
    },
    async waitForPromotion(replica, gone) {
      await waitUntil(
        async () => ((await command(replica, ['role'])) as string[])[0] === 'master',
        `the replica on ${replica.port} to be promoted`,
        30_000,
      );
      await waitForClusterOk({ nodes: nodes.filter((n) => !gone.includes(n)) });
    },
    async rejoin(node) {
      await node.start();
      await waitUntil(
        async () => ((await command(node, ['role'])) as string[])[0] === 'slave',
        `the node on ${node.port} to rejoin as a replica`,
        30_000,
      );
      await waitForClusterOk(cluster);
      await waitForReplicasInSync(nodes, replicasPerMaster);
    },
    async migrateSlotOf(key, to) {
      const { master: from } = await cluster.ownersOf(key);
      const slot = Number(await command(from, ['cluster', 'keyslot', key]));
      if (from === to) return { slot, keys: 0 };
      const idOf = async (n: RedisServer) => String(await command(n, ['cluster', 'myid']));
      const [fromId, toId] = await Promise.all([idOf(from), idOf(to)]);
      await command(to, ['cluster', 'setslot', String(slot), 'importing', fromId]);
      await command(from, ['cluster', 'setslot', String(slot), 'migrating', toId]);
      const auth = access ? ['AUTH2', access.admin.username, access.admin.password] : [];
      let moved = 0;
      for (;;) {
        const keys = (await command(from, [
          'cluster',
          'getkeysinslot',
          String(slot),
          '100',
        ])) as string[];
        if (keys.length === 0) break;
        // A large key (the delta stream) takes a while to serialize: a generous timeout.
        await command(from, [
          'migrate',
          '127.0.0.1',
          String(to.port),
          '',
          '0',
          '60000',
          ...auth,
          'KEYS',
          ...keys,
        ]);
        moved += keys.length;
      }
      // The new owner first, then the old one, then the rest (the order the docs give).
      for (const node of [to, from, ...nodes.filter((n) => n !== to && n !== from)]) {
        await command(node, ['cluster', 'setslot', String(slot), 'node', toId]).catch(() => {});
      }
      return { slot, keys: moved };
    },
    dispose: async () => {
      await Promise.all(nodes.map((n) => n.dispose()));
    },
  };
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    await redisCli(
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      access,
    );
    await waitForClusterOk(cluster);
    if (replicasPerMaster > 0) await waitForReplicasInSync(nodes, replicasPerMaster);
  } catch (error) {
    await cluster.dispose();
    throw error;
  }
  return cluster;
}

/**
 * Every replica has finished its first sync (a WAIT on its master can be answered), and every
 * node lists `replicasPerMaster` replicas for each slot range.
 */
async function waitForReplicasInSync(
  nodes: readonly RedisServer[],
  replicasPerMaster: number,
): Promise<void> {
  await waitUntil(async () => {
    for (const node of nodes) {
      const info = (await command(node, ['info', 'replication'])) as string;
      if (!info.includes('role:master') && !info.includes('master_link_status:up')) return false;
      const ranges = (await command(node, ['cluster', 'slots'])) as unknown[][];
      if (ranges.some((range) => range.length < 3 + replicasPerMaster)) return false;
    }
    return true;
  }, 'the replicas to be in sync');
}

/** Every node sees every slot served: after a create, or after a node came back. */
export async function waitForClusterOk(cluster: Pick<RedisCluster, 'nodes'>): Promise<void> {
  await waitUntil(async () => {
    const states = await Promise.all(
      cluster.nodes.map(async (n) => String(await command(n, ['cluster', 'info']))),
    );
    return states.every(
      (s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'),
    );
  }, 'the cluster to be ok');
}
