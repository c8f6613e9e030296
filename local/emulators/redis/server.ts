/**
 * Real redis-server processes for tests, the demo and the soak, on free ports. Nothing is
 * persisted; each lives in a temp folder, removed with the server, also when the Node process
 * that started it dies without stopping it. `secure: true` gives a server ElastiCache's shape
 * (access.ts); a cluster of them is in cluster.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { anyKeyPrefix } from '../../../core/index.ts';
import { MissingPrerequisiteError, RedisServerError } from '../errors.ts';
import { guardAgainstOrphan } from '../orphan-guard.ts';
import { freePort } from '../ports.ts';
import { newAccess, nodeOptions, type RedisAccess, secureArgs } from './access.ts';

export const INSTALL_HINT =
  'install it with: apt-get install redis-server redis-tools, or set REDIS_URL to a Redis you run';

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

/** Polls `check` every 50 ms until it holds; throws after `timeoutMs`, returns once `signal` aborts. */
export async function waitUntil(
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

/** A redis-server on a free port with `extraArgs`, secure when given `access`. */
export async function startNode(
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
