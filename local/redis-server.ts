/**
 * Real redis-server processes for tests: one standalone server, or a cluster of masters made
 * with `redis-cli --cluster create`. Nothing is persisted; each lives in a temp folder.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';

const run = promisify(execFile);

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGKILL: like a crash, nothing is saved). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers, nothing is lost. */
  freeze(): void;
  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void;
  /** Stops it for good and removes its folder. */
  dispose(): Promise<void>;
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function ping(port: number): Promise<boolean> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
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

export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'seqguard-redis-'));
  let child: ChildProcess | undefined;

  const start = async () => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    child = spawn('redis-server', [...args, '--dir', dir, ...extraArgs], { stdio: 'ignore' });
    const exited = new Promise<never>((_, reject) =>
      child?.once('exit', (code) =>
        reject(new Error(`redis-server on port ${port} exited with ${code}`)),
      ),
    );
    exited.catch(() => {});
    await Promise.race([waitUntil(() => ping(port), `redis-server on port ${port}`), exited]);
  };
  const stop = async () => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
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
  readonly url: string;
  readonly nodes: RedisServer[];
  dispose(): Promise<void>;
}

/** A cluster of `masters` masters and no replicas, all slots covered. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes = await Promise.all(
    Array.from({ length: masters }, () =>
      startRedisServer([
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '2000',
        // A dead master must not take the other masters' slots down with it.
        '--cluster-require-full-coverage',
        'no',
      ]),
    ),
  );
  await run('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  const cluster = {
    url: nodes[0]?.url as string,
    nodes,
    dispose: async () => {
      await Promise.all(nodes.map((n) => n.dispose()));
    },
  };
  await waitForClusterOk(cluster);
  return cluster;
}

/** Every node sees every slot served: after a create, or after a node came back. */
export async function waitForClusterOk(cluster: Pick<RedisCluster, 'nodes'>): Promise<void> {
  await waitUntil(async () => {
    const states = await Promise.all(
      cluster.nodes.map(
        async (n) => (await run('redis-cli', ['-p', String(n.port), 'cluster', 'info'])).stdout,
      ),
    );
    return states.every(
      (s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'),
    );
  }, 'the cluster to be ok');
}
