/**
 * What a local run of the whole pipeline (the demo, the soak) needs around its servers:
 * - clean-up of everything it started, once, in reverse order, on every way out (the end, an
 *   error, Ctrl-C, SIGTERM, SIGHUP, an error no step caught);
 * - production's security shape for the clients: the function's Redis password from a local
 *   Secrets Manager, Kafka over SASL_SSL with MSK IAM tokens, and a line per connection saying
 *   how it was secured;
 * - errors explained with their causes, deadlines, and produce-to-visible latency read from the
 *   delta stream in pages.
 */
import { decodeStreamEntry, type KafkaConnection, type RedisClient } from '../../core/index.ts';

import { LocalRuntimeError } from '../emulators/errors.ts';
import { type KafkaBroker, secureKafkaEnv } from '../emulators/kafka/broker.ts';
import type { RedisAccess } from '../emulators/redis/access.ts';
import { startSecretsServer } from '../emulators/secrets-server.ts';

/** Everything a run started, stopped in reverse order, once. */
export class Cleanups {
  readonly #steps: (() => Promise<unknown>)[] = [];
  #running: Promise<void> | undefined;

  push(...steps: (() => Promise<unknown>)[]): void {
    this.#steps.push(...steps);
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) await step().catch(() => {});
    })();
    return this.#running;
  }
}

const signalCodes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/**
 * Stops what `cleanups` holds on Ctrl-C, SIGTERM and SIGHUP (exit 128 + signal) and on an error
 * no step caught (exit 1). Returns whether a signal came, for the caller's own error handling.
 */
export function cleanUpOnExit(name: string, cleanups: Cleanups): { interrupted(): boolean } {
  let interrupted = false;
  for (const [signal, code] of Object.entries(signalCodes)) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`\n${signal}: stopping everything the ${name} started`);
      void cleanups.run().then(() => process.exit(code));
    });
  }
  // An error no step caught (a client's, on a timer) still stops what the run started.
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    process.once(event, (error) => {
      console.error(`${name} failed: ${(error as Error)?.stack ?? error}`);
      void cleanups.run().then(() => process.exit(1));
    });
  }
  return { interrupted: () => interrupted };
}

/**
 * Runs a command's `main()` as the process: its exit code, then stops what `cleanups` holds.
 * Ctrl-C, SIGTERM and SIGHUP stop everything too (cleanUpOnExit); after one, the clients close
 * under the running steps and their errors are expected, so none is printed. Any other error
 * ends the run with exit 1: the local runtime's own errors by name and message (they explain
 * themselves), anything else with its stack.
 */
export async function runMain(
  name: string,
  cleanups: Cleanups,
  main: () => Promise<number>,
): Promise<void> {
  const exit = cleanUpOnExit(name, cleanups);
  try {
    process.exitCode = await main();
  } catch (error) {
    if (!exit.interrupted()) {
      const known = error instanceof LocalRuntimeError;
      console.error(
        `\n${name} failed: ${known ? `${(error as Error).name}: ${(error as Error).message}` : ((error as Error).stack ?? error)}`,
      );
    }
    process.exitCode = exit.interrupted() ? process.exitCode : 1;
  } finally {
    if (!exit.interrupted()) await cleanups.run();
  }
}

/** An error's message with its causes, e.g. `Creating topics failed: … ECONNREFUSED …`. */
export function explain(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current) && parts.length < 4) {
    seen.add(current);
    const message = current.message.replace(/\.$/, '');
    if (!parts.includes(message)) parts.push(message);
    const nested = (current as { errors?: unknown[] }).errors;
    current = current.cause ?? (Array.isArray(nested) ? nested[0] : undefined);
  }
  return parts.join(': ');
}

/** Rejects after `ms` with `toError(message)`, unless `work` settles first. */
export async function within<T>(
  ms: number,
  message: string,
  work: Promise<T>,
  toError: (message: string) => Error = (m) => new LocalRuntimeError(m),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(toError(message)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How the function and the run's own clients reach a Redis started in production's shape. */
export interface SecuredRedis {
  /** What the function needs besides REDIS_URL: the secret's ARN and the CA. */
  functionEnv: Record<string, string>;
  /** What a client of the run itself passes to createRedisClient(). */
  clientOptions: { username: string; password: string; tlsCaFile: string };
  /** How the connections to Redis are secured, for the report. */
  security: string;
}

/**
 * The function reads the Redis password as it does in AWS, from the Secrets Manager API: a local
 * one (moto's server) is started, holding the ACL user's credentials.
 */
export async function secureRedisAccess(
  access: RedisAccess,
  cleanups: Cleanups,
): Promise<SecuredRedis> {
  const secrets = await startSecretsServer();
  cleanups.push(() => secrets.stop());
  const arn = await secrets.createRedisAuthSecret({
    username: access.username,
    password: access.password,
  });
  return {
    functionEnv: {
      ...secrets.env,
      SEQGUARD_REDIS_AUTH_SECRET_ARN: arn,
      SEQGUARD_REDIS_CA_FILE: access.caFile,
    },
    clientOptions: {
      username: access.username,
      password: access.password,
      tlsCaFile: access.caFile,
    },
    security: `TLS (verified against the local CA) as ACL user "${access.username}" (default user off), its password read from the Secrets Manager API at ${secrets.endpoint} (moto)`,
  };
}

/** How the run's clients and the function reach a broker. */
export interface KafkaClients {
  /** The bootstrap address clients use, and how they reach it. */
  connection: Omit<KafkaConnection, 'clientId'>;
  functionEnv: Record<string, string>;
  security: string;
}

/**
 * The clients of a broker: over its SASL_SSL listener with MSK IAM tokens when it has one (every
 * client of this process signs with the credentials the broker checks), else plaintext.
 */
export function kafkaClientsOf(
  broker: Pick<KafkaBroker, 'bootstrap' | 'mskIam'>,
  plaintextSecurity: string,
): KafkaClients {
  const listener = broker.mskIam;
  if (!listener)
    return {
      connection: { bootstrapBrokers: [broker.bootstrap] },
      functionEnv: {},
      security: plaintextSecurity,
    };
  const functionEnv = secureKafkaEnv(listener);
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: functionEnv.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: functionEnv.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: functionEnv.AWS_REGION,
  });
  return {
    connection: {
      bootstrapBrokers: [listener.bootstrap],
      mskIam: { region: listener.credentials.region },
      tlsCaPem: listener.caPem,
    },
    functionEnv,
    security:
      'SASL_SSL with an MSK IAM token (SigV4, checked by the broker), TLS verified against the local CA',
  };
}

/** Latency of each stream entry read: its id's time minus the event's record timestamp (`ts`). */
export function entryLatencies(page: [string, string[]][]): number[] {
  return page.map(
    ([id, fields]) => Number(id.split('-')[0]) - Number(decodeStreamEntry(fields).ts),
  );
}

/** The value at percentile `p` of a histogram (value -> count) holding `total` values. */
export function histogramPercentile(histogram: Map<number, number>, total: number, p: number) {
  const sorted = [...histogram].sort(([a], [b]) => a - b);
  let seen = 0;
  const rank = Math.floor((p / 100) * total);
  for (const [value, count] of sorted) {
    seen += count;
    if (seen > rank) return value;
  }
  return Number.NaN;
}

/** Produce-to-visible latency percentiles from the entries the stream still holds, in pages. */
export async function streamLatency(
  redis: RedisClient,
  stream: string,
): Promise<{ p50: number; p99: number; entries: number }> {
  const histogram = new Map<number, number>();
  let entries = 0;
  let from = '-';
  for (;;) {
    const page = await redis.xrange(stream, from, '+', 'COUNT', 5_000);
    for (const latency of entryLatencies(page)) {
      histogram.set(latency, (histogram.get(latency) ?? 0) + 1);
      entries += 1;
    }
    if (page.length < 5_000) break;
    from = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
  return {
    p50: histogramPercentile(histogram, entries, 50),
    p99: histogramPercentile(histogram, entries, 99),
    entries,
  };
}
