/**
 * A Redis Cluster of local redis-server processes (server.ts): masters, with replicas if asked,
 * made with `redis-cli --cluster create`, plaintext or in ElastiCache's shape (access.ts), where
 * the nodes, and a replica and its master, talk TLS to each other too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { anyKeyPrefix } from '../../../core/index.ts';
import { MissingPrerequisiteError, RedisServerError } from '../errors.ts';
import { newAccess, nodeOptions, type RedisAccess } from './access.ts';
import { INSTALL_HINT, type RedisServer, startNode, waitUntil } from './server.ts';

const execFileAsync = promisify(execFile);

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

/** A command to one node, as the admin user when it is secure. */
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

/**
 * Set up: `count` nodes in cluster mode, started at once. Every start is waited for, so that a
 * failed one leaves none of the others running: `failure` is the first error, if any.
 */
async function startClusterNodes(
  count: number,
  serverArgs: readonly string[],
  access: RedisAccess | undefined,
): Promise<{ nodes: RedisServer[]; failure?: unknown }> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, () =>
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
  const failed = started.find((s) => s.status === 'rejected');
  return failed ? { nodes, failure: failed.reason } : { nodes };
}

/** The node of `nodes` that listens on `port`. */
function nodeOn(nodes: readonly RedisServer[], port: number): RedisServer {
  const node = nodes.find((n) => n.port === port);
  if (!node) throw new RedisServerError(`no node of this cluster listens on ${port}`);
  return node;
}

/** The master serving `key`'s slot now, and its replicas, as the first node that knows says. */
async function ownersOf(
  nodes: readonly RedisServer[],
  key: string,
): Promise<{ master: RedisServer; replicas: RedisServer[] }> {
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
    return {
      master: nodeOn(nodes, master[1]),
      replicas: replicas.map((r) => nodeOn(nodes, r[1])),
    };
  }
  throw new RedisServerError(`no node of the cluster knows who serves "${key}"`);
}

/** RedisCluster.migrateSlotOf(): resharding one slot while clients go on using it. */
async function migrateSlotOf(
  cluster: RedisCluster,
  key: string,
  to: RedisServer,
): Promise<{ slot: number; keys: number }> {
  const { nodes, access } = cluster;
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
}

/** The handle of a cluster of `nodes`: what the tests and the soak's faults do to it. */
function clusterOf(
  nodes: RedisServer[],
  access: RedisAccess | undefined,
  replicasPerMaster: number,
): RedisCluster {
  const cluster: RedisCluster = {
    url: nodes[0]?.url as string,
    ...(access ? { access } : {}),
    nodes,
    ownersOf: (key) => ownersOf(nodes, key),
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
    migrateSlotOf: (key, to) => migrateSlotOf(cluster, key, to),
    dispose: async () => {
      await Promise.all(nodes.map((n) => n.dispose()));
    },
  };
  return cluster;
}

/** Joins the nodes into a cluster (`redis-cli --cluster create`) and waits until it serves. */
async function createCluster(cluster: RedisCluster, replicasPerMaster: number): Promise<void> {
  await redisCli(
    [
      '--cluster',
      'create',
      ...cluster.nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      String(replicasPerMaster),
      '--cluster-yes',
    ],
    cluster.access,
  );
  await waitForClusterOk(cluster);
  if (replicasPerMaster > 0) await waitForReplicasInSync(cluster.nodes, replicasPerMaster);
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
  const { nodes, failure } = await startClusterNodes(
    masters * (1 + replicasPerMaster),
    serverArgs,
    access,
  );
  const cluster = clusterOf(nodes, access, replicasPerMaster);
  try {
    if (failure) throw failure;
    await createCluster(cluster, replicasPerMaster);
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
