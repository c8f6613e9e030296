/**
 * Real redis-server processes for tests: one standalone server, or a cluster of masters made
 * with `redis-cli --cluster create`. Nothing is persisted; each lives in a temp folder, removed
 * with the server, also when the Node process that started it dies without stopping it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { MissingPrerequisiteError, RedisServerError } from './errors.ts';
import { guardAgainstOrphan } from './orphan-guard.ts';
import { freePort } from './ports.ts';

const execFileAsync = promisify(execFile);

const INSTALL_HINT =
  'install it with: apt-get install redis-server redis-tools, or set REDIS_URL to a Redis you run';

/** redis-cli, with a clear error when it is not installed. */
async function redisCli(args: string[]): Promise<{ stdout: string }> {
  try {
    return await execFileAsync('redis-cli', args);
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
  readonly url: string;
  /** Its working folder: a snapshot (dump.rdb) written there is loaded by the next start(). */
  readonly dir: string;
  /** Stops the server (SIGKILL: like a crash, nothing is saved). */
  stop(): Promise<void>;
  /** Starts it again on the same port: empty, or from the snapshot in `dir` if there is one. */
  start(): Promise<void>;
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
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (signal?.aborted) return;
  throw new RedisServerError(`timed out waiting for ${what}`);
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

  const logFile = join(dir, 'redis.log');
  let releaseGuard = () => {};

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
    const spawned = spawn(
      'redis-server',
      [...args, '--dir', dir, '--logfile', logFile, ...extraArgs],
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
      waitUntil(() => ping(port), `redis-server on port ${port}`, 20_000, gaveUp.signal),
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
    url: `redis://127.0.0.1:${port}`,
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
  readonly url: string;
  readonly nodes: RedisServer[];
  dispose(): Promise<void>;
}

/** A cluster of `masters` masters and no replicas, all slots covered. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const started = await Promise.allSettled(
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
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const cluster = {
    url: nodes[0]?.url as string,
    nodes,
    dispose: async () => {
      await Promise.all(nodes.map((n) => n.dispose()));
    },
  };
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    await redisCli([
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitForClusterOk(cluster);
  } catch (error) {
    await cluster.dispose();
    throw error;
  }
  return cluster;
}

/** Every node sees every slot served: after a create, or after a node came back. */
export async function waitForClusterOk(cluster: Pick<RedisCluster, 'nodes'>): Promise<void> {
  await waitUntil(async () => {
    const states = await Promise.all(
      cluster.nodes.map(
        async (n) => (await redisCli(['-p', String(n.port), 'cluster', 'info'])).stdout,
      ),
    );
    return states.every(
      (s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'),
    );
  }, 'the cluster to be ok');
}
