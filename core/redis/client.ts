/**
 * The Redis client: one per process, reused across invocations, with every seqguard script
 * defined on it (EVALSHA, falling back to EVAL on NOSCRIPT, per node on a cluster).
 */
import { readFileSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions, type Result } from 'ioredis';
import { ConfigError } from '../errors.ts';
import * as scripts from './lua-scripts.generated.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    deadLetter(...keysAndArgs: string[]): Result<number[], Context>;
    advanceLedger(...keysAndArgs: string[]): Result<number, Context>;
    readState(...keysAndArgs: string[]): Result<[(string | null)[], unknown], Context>;
  }
}

export type RedisClient = Redis | Cluster;

export interface RedisConnectionOptions {
  /** redis://[user:password@]host:port or rediss:// for TLS. */
  url: string;
  /** Connect as a Redis Cluster client, discovering the nodes from `url`. */
  cluster: boolean;
  /** Per-command timeout: a hung node fails the chunk, and the records are retried. */
  commandTimeoutMs: number;
  /**
   * A Secrets Manager secret holding the credentials (SEQGUARD_REDIS_AUTH_SECRET_ARN); read at
   * cold start by `withRedisAuthSecret()`, which fills in `username` and `password`.
   */
  authSecretArn?: string;
  /**
   * A PEM file of the CA(s) to trust for the Redis TLS connection instead of Node's bundled
   * ones (SEQGUARD_REDIS_CA_FILE), for a Redis whose certificate a private CA signed, like the
   * local runtime's. Unset for ElastiCache, whose certificates public CAs sign. Verification
   * stays on either way. Not NODE_EXTRA_CA_CERTS: Node reads that once, when the process
   * starts (https://nodejs.org/api/cli.html#node_extra_ca_certsfile), and it would widen trust
   * for every TLS connection of the process, the AWS API calls included.
   */
  tlsCaFile?: string;
  /** An ACL (ElastiCache RBAC) user; wins over a user in `url`. */
  username?: string;
  /** The password or AUTH token; wins over a password in `url`. */
  password?: string;
  /**
   * Connection errors. Commands fail on their own (and their records are retried); without a
   * listener, ioredis would also print every reconnect failure as an unhandled error.
   */
  onError?: (error: Error) => void;
}

function prepare(client: RedisClient, onError: (error: Error) => void = () => {}): RedisClient {
  client.on('error', onError);
  client.defineCommand(scripts.deadLetter.name, {
    lua: scripts.deadLetter.lua,
    numberOfKeys: scripts.deadLetter.numberOfKeys,
  });
  client.defineCommand(scripts.advanceLedger.name, {
    lua: scripts.advanceLedger.lua,
    numberOfKeys: scripts.advanceLedger.numberOfKeys,
  });
  client.defineCommand(scripts.readState.name, {
    lua: scripts.readState.lua,
    numberOfKeys: scripts.readState.numberOfKeys,
  });
  return client;
}

/** A script whose text depends on the registered mutations (core/mutations/registry.ts). */
export interface RegisteredScript {
  /** The command name, one per text: a client may serve several registries. */
  name: string;
  lua: string;
  /** Absent: the key count is passed per call (applyBatch's state keys vary). */
  numberOfKeys?: number;
}

/**
 * Defines a registry's script on the client the first time it is used (EVALSHA, falling back to
 * EVAL on NOSCRIPT), and returns its call, for the client or a pipeline of it.
 */
export function defineScript(
  client: RedisClient,
  script: RegisteredScript,
): (commander: unknown, ...args: (string | number)[]) => Promise<never> {
  const commands = client as unknown as Record<string, unknown>;
  if (typeof commands[script.name] !== 'function') {
    client.defineCommand(script.name, {
      lua: script.lua,
      ...(script.numberOfKeys === undefined ? {} : { numberOfKeys: script.numberOfKeys }),
    });
  }
  return (commander, ...args) =>
    (commander as Record<string, (...a: unknown[]) => Promise<never>>)[script.name]?.(
      ...args,
    ) as Promise<never>;
}

/** Node's TLS options for a rediss:// URL: the CA file's certificates, if one is given. */
function tlsOptions(tlsCaFile: string | undefined): { ca?: Buffer } {
  if (tlsCaFile === undefined) return {};
  try {
    return { ca: readFileSync(tlsCaFile) };
  } catch (error) {
    throw new ConfigError(`SEQGUARD_REDIS_CA_FILE: cannot read ${tlsCaFile}`, { cause: error });
  }
}

export function createRedisClient(options: RedisConnectionOptions): RedisClient {
  const url = new URL(options.url);
  const common: RedisOptions = {
    // Fail fast: a command that cannot run is retried by the event source, not queued here
    // while the Lambda's time runs out.
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(url.protocol === 'rediss:' ? { tls: tlsOptions(options.tlsCaFile) } : {}),
  };
  if (!options.cluster) {
    // ioredis lets credentials in the URL win over the options: drop them when the options
    // carry their own (from the auth secret).
    const target = new URL(options.url);
    if (options.username !== undefined || options.password !== undefined) {
      target.username = '';
      target.password = '';
    }
    return prepare(new Redis(target.toString(), common), options.onError);
  }
  return prepare(
    new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
      redisOptions: common,
      // ElastiCache's TLS certificates name the configuration endpoint, not the node IPs.
      ...(url.protocol === 'rediss:'
        ? { dnsLookup: (address, callback) => callback(null, address) }
        : {}),
      clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
      slotsRefreshTimeout: options.commandTimeoutMs,
    }),
    options.onError,
  );
}
