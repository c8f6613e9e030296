/**
 * The peer: Powertools for AWS Lambda (TypeScript) idempotency, used as its documentation shows
 * for a batch of records (https://docs.aws.amazon.com/powertools/typescript/latest/features/idempotency/,
 * "Batch integration", and its Kafka example `examples/snippets/kafka/advancedWorkingWithIdempotency.ts`):
 * `makeIdempotent` around the per-record effect, an `IdempotencyConfig` keyed by the event's id,
 * the Lambda context registered on every invocation, and the cache persistence layer
 * (`@aws-lambda-powertools/idempotency/cache`) on Redis/Valkey.
 *
 * Per record Powertools writes an INPROGRESS record (SET NX EX), runs the effect, then marks the
 * record COMPLETED (SET EX); a record it finds COMPLETED returns the stored result instead of
 * running the effect again. The effect is the one the seed article's design makes: the state
 * mutation, then an entry in the shard's delta stream, as two commands.
 *
 * Nothing here is seqguard's code path: it is what a team would write with Powertools instead,
 * and both the benchmark (`npm run bench`) and the crash comparison
 * (test/integration/crash-comparison.test.ts) run this one module.
 */
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import type { Context, MSKEvent, MSKRecord } from 'aws-lambda';
import {
  type GuardedEvent,
  type KafkaBatchResponse,
  type Mutation,
  type RedisClient,
  shardKeys,
  stateKey,
} from '../core/index.ts';

/** What the peer applies: an event's id (its idempotency key), its shard and its mutation. */
export interface PeerEvent {
  id: string;
  shard: string;
  mutation: Mutation;
}

/** Runs one Redis request; the benchmark passes one that times each. */
export type RequestRunner = <T>(request: () => Promise<T>) => Promise<T>;

const untimed: RequestRunner = (request) => request();

/**
 * Powertools' `CacheClient` port (get, set, del) on an ioredis client. The persistence layer
 * passes `set` options in node-redis' shape (`{ EX, NX }`); ioredis takes them positionally.
 */
export function ioredisCacheClient(redis: RedisClient, run: RequestRunner = untimed): CacheClient {
  return {
    get: (name) => run(() => redis.get(name)),
    async set(name, value, options) {
      const { EX, NX } = (options ?? {}) as { EX?: number; NX?: boolean };
      const key = String(name);
      const text = String(value);
      if (EX !== undefined && NX) return run(() => redis.set(key, text, 'EX', EX, 'NX'));
      if (EX !== undefined) return run(() => redis.set(key, text, 'EX', EX));
      if (NX) return run(() => redis.set(key, text, 'NX'));
      return run(() => redis.set(key, text));
    },
    del: (keys) => run(() => redis.del(...keys)),
  };
}

/**
 * The effect of one event, as the seed's design applies it: the mutation, then the delta on the
 * shard's stream. Only increments: they are what a second application corrupts (a version-guarded
 * `hsetIfNewer` is idempotent on its own).
 */
export async function applyEffect(
  redis: RedisClient,
  event: PeerEvent,
  keyPrefix: string,
  run: RequestRunner = untimed,
): Promise<string> {
  const { shard, mutation } = event;
  const key = stateKey(shard, mutation.keys[0] as string, keyPrefix);
  const [target = '', delta = ''] = mutation.args;
  let value: string;
  if (mutation.op === 'zincrby') value = await run(() => redis.zincrby(key, delta, target));
  else if (mutation.op === 'hincrby')
    value = String(await run(() => redis.hincrby(key, target, delta)));
  else throw new TypeError(`the peer applies increments only, not ${mutation.op}`);
  await run(() =>
    redis.xadd(
      shardKeys(shard, keyPrefix).stream,
      '*',
      'id',
      event.id,
      'target',
      target,
      'value',
      delta,
    ),
  );
  return value;
}

export interface PowertoolsSinkOptions {
  redis: RedisClient;
  /** Prefix of the state and stream keys (as SEQGUARD_KEY_PREFIX). */
  keyPrefix: string;
  /** Prefix of Powertools' idempotency records (its `keyPrefix` option). */
  idempotencyKeyPrefix: string;
  /** Runs each Redis request (the benchmark times them). */
  run?: RequestRunner;
  /**
   * Called after an event's effect and before Powertools completes its record: the crash
   * comparison kills the process here.
   */
  afterEffect?: (event: PeerEvent) => Promise<void> | void;
}

export interface PowertoolsSink {
  /** The per-record function made idempotent; returns the new value the effect left. */
  applyOnce: (event: PeerEvent) => Promise<string>;
  /** Registers the invocation's context, so a record in progress expires with the invocation. */
  registerLambdaContext: (context: Context) => void;
}

export function createPowertoolsSink(options: PowertoolsSinkOptions): PowertoolsSink {
  const { redis, keyPrefix, idempotencyKeyPrefix, run = untimed, afterEffect } = options;
  const persistenceStore = new CachePersistenceLayer({ client: ioredisCacheClient(redis, run) });
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'id' });
  const applyOnce = makeIdempotent(
    async function applyEvent(event: PeerEvent): Promise<string> {
      const value = await applyEffect(redis, event, keyPrefix, run);
      await afterEffect?.(event);
      return value;
    },
    { persistenceStore, config, keyPrefix: idempotencyKeyPrefix },
  );
  return {
    applyOnce,
    registerLambdaContext: (context) => config.registerLambdaContext(context),
  };
}

interface EnvelopeValue {
  id: string;
  shard?: string;
  type: string;
  data: { key: string; member?: string; field?: string; delta: number | string };
}

/** The peer's decoding of an envelope record (docs/event-format.md). */
export function peerEventFromRecord(record: MSKRecord, defaultShard = 'default'): PeerEvent {
  const value = JSON.parse(Buffer.from(record.value, 'base64').toString('utf8')) as EnvelopeValue;
  const op = value.type;
  if (op !== 'zincrby' && op !== 'hincrby') throw new TypeError(`unsupported type ${op}`);
  return {
    id: String(value.id),
    shard: value.shard ?? defaultShard,
    mutation: {
      op,
      keys: [value.data.key],
      args: [
        String(op === 'zincrby' ? value.data.member : value.data.field),
        String(value.data.delta),
      ],
    },
  };
}

/**
 * An MSK handler a Powertools user would write: each partition's records in order, each through
 * `applyOnce`; a record that fails is reported with every later record of its partition
 * (Powertools' batch utility has no Kafka support, so the partial batch response is by hand).
 */
export function powertoolsMskHandler(sink: PowertoolsSink) {
  return async function handler(event: MSKEvent, context: Context): Promise<KafkaBatchResponse> {
    sink.registerLambdaContext(context);
    const response: KafkaBatchResponse = { batchItemFailures: [] };
    for (const [partition, records] of Object.entries(event.records)) {
      const ordered = [...records].sort((a, b) => a.offset - b.offset);
      let failed = false;
      for (const record of ordered) {
        if (!failed) {
          try {
            await sink.applyOnce(peerEventFromRecord(record));
            continue;
          } catch {
            failed = true;
          }
        }
        response.batchItemFailures.push({ itemIdentifier: { partition, offset: record.offset } });
      }
    }
    return response;
  };
}

/** A Lambda context for the benchmark, where no invocation runs: 15 minutes (the maximum) left. */
function benchContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'powertools-bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:powertools-bench',
    memoryLimitInMB: '1024',
    awsRequestId: 'bench',
    logGroupName: '/aws/lambda/powertools-bench',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => 900_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** The name of the Powertools design in the benchmark's tables. */
export const powertoolsDesignName = 'Powertools idempotency (cache layer)';

/**
 * The benchmark's design: each event through Powertools, one at a time as a Kafka partition's
 * records must go (in order), keyed by the event's id (its scope and seq). Each Redis request is
 * one measured call.
 */
export async function powertoolsDesign(
  redis: RedisClient,
  events: GuardedEvent[],
  calls: number[],
): Promise<void> {
  const run: RequestRunner = async (request) => {
    const started = performance.now();
    const result = await request();
    calls.push(performance.now() - started);
    return result;
  };
  const sink = createPowertoolsSink({
    redis,
    keyPrefix: 'sg',
    idempotencyKeyPrefix: 'powertools',
    run,
  });
  sink.registerLambdaContext(benchContext());
  for (const e of events) {
    await sink.applyOnce({
      id: `${e.sequence?.scope}:${e.sequence?.seq}`,
      shard: e.shard,
      mutation: e.mutation,
    });
  }
}
