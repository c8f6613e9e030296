/**
 * Configuration of the sink, from environment variables, validated once at cold start.
 * Every problem is reported at once, by variable name, in one ConfigError.
 */
import * as z from 'zod/mini';
import { ConfigError } from '../errors.ts';
import type { DecodeOptions } from '../events/decode.ts';
import { toUint63String } from '../events/int64.ts';
import { mappingSchema } from '../events/schema.ts';
import { maxChunkEvents } from '../guard/chunks.ts';
import type { KafkaLocation } from '../kafka/location.ts';
import type { MutationRegistry } from '../mutations/registry.ts';
import type { GuardOptions } from '../redis/apply-batch.ts';
import type { RedisConnectionOptions } from '../redis/client.ts';
import { defaultOf } from './environment.ts';
import { inEnglish } from './zod-english.ts';

export interface SinkConfig {
  redis: RedisConnectionOptions;
  decode: DecodeOptions;
  guard: GuardOptions;
  /** Events per applyBatch execution. */
  chunkSize: number;
  /** Shards applied at the same time (chunks of one shard always run in order). */
  shardConcurrency: number;
  /**
   * Where the sink reads Kafka to tell a hole in a partition's ledger from offsets that hold no
   * record (transaction markers, compaction); undefined when not configured.
   */
  kafka: KafkaLocation | undefined;
  /**
   * The CloudWatch namespace of the functions' metrics (EMF). Deployed, it is the deployment's
   * prefix, so two deployments in one account and region never feed each other's alarms.
   */
  metricsNamespace: string;
}

/**
 * A CloudWatch namespace: 1-255 characters of A-Z a-z 0-9 . - _ / # : and space, at least one
 * not a space, not starting with `AWS/`, which AWS keeps for its services (CloudWatch user guide,
 * "Namespaces", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Namespace;
 * PutMetricData, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
 * Powertools does not check it, and CloudWatch drops the EMF lines of a bad one without a word to
 * the function, so the alarms would go quiet.
 */
const metricsNamespacePattern = /^(?!AWS\/)(?=.*[^ ])[A-Za-z0-9._\-/#: ]{1,255}$/;

const integer = (min: number, max: number, fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max)), fallback);

const flags = ['true', 'false', '1', '0'] as const;

/** A flag, `true`/`1` or `false`/`0`, as a boolean. */
const flag = (fallback: boolean) =>
  z.pipe(
    z._default(z.enum(flags), String(fallback) as 'true' | 'false'),
    z.transform((v) => v === 'true' || v === '1'),
  );

/** Text of at least one character. */
const nonEmpty = () => z.string().check(z.minLength(1));

/** A string matching `pattern`, or `message`. */
const matching = (pattern: RegExp, message: string) => z.string().check(z.regex(pattern, message));

const mappingFromJson = z.pipe(
  z.pipe(
    z._default(z.string(), defaultOf('SEQGUARD_MAPPING')),
    z.transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        ctx.issues.push({
          code: 'custom',
          message: `not JSON: ${(error as Error).message}`,
          input: text,
        });
        return z.NEVER;
      }
    }),
  ),
  mappingSchema,
);

/** MSK IAM tokens are signed for a region: SEQGUARD_KAFKA_MSK_IAM=true needs one to sign for. */
function hasMskIamRegion(e: {
  SEQGUARD_KAFKA_MSK_IAM?: string | undefined;
  SEQGUARD_MSK_CLUSTER_ARN?: string | undefined;
  AWS_REGION?: string | undefined;
}): boolean {
  const on = e.SEQGUARD_KAFKA_MSK_IAM === 'true' || e.SEQGUARD_KAFKA_MSK_IAM === '1';
  return !on || Boolean(e.SEQGUARD_MSK_CLUSTER_ARN || e.AWS_REGION);
}

const mskIamRegionIssue = {
  message: 'MSK IAM needs AWS_REGION (or SEQGUARD_MSK_CLUSTER_ARN) to sign its tokens for',
  path: ['SEQGUARD_KAFKA_MSK_IAM'],
};

const environmentSchema = z
  .object({
    REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }),
    SEQGUARD_REDIS_CLUSTER: flag(defaultOf('SEQGUARD_REDIS_CLUSTER')),
    SEQGUARD_REDIS_AUTH_SECRET_ARN: z.optional(
      matching(
        /^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:.+$/,
        'a Secrets Manager secret ARN',
      ),
    ),
    SEQGUARD_REDIS_CA_FILE: z.optional(nonEmpty()),
    SEQGUARD_REDIS_TIMEOUT_MS: integer(100, 60_000, defaultOf('SEQGUARD_REDIS_TIMEOUT_MS')),
    SEQGUARD_REDIS_WAIT_REPLICAS: integer(0, 5, defaultOf('SEQGUARD_REDIS_WAIT_REPLICAS')),
    SEQGUARD_REDIS_WAIT_TIMEOUT_MS: integer(1, 60_000, defaultOf('SEQGUARD_REDIS_WAIT_TIMEOUT_MS')),
    SEQGUARD_KEY_PREFIX: z._default(
      matching(/^[A-Za-z0-9_-]{1,32}$/, '1-32 characters of A-Z a-z 0-9 _ -'),
      defaultOf('SEQGUARD_KEY_PREFIX'),
    ),
    SEQGUARD_FORMAT: z._default(z.enum(['envelope', 'mapped']), defaultOf('SEQGUARD_FORMAT')),
    SEQGUARD_MAPPING: mappingFromJson,
    SEQGUARD_DEFAULT_SHARD: z._default(
      z.string().check(z.minLength(1), z.maxLength(128)),
      defaultOf('SEQGUARD_DEFAULT_SHARD'),
    ),
    SEQGUARD_MAX_VALUE_BYTES: integer(64, 10 * 1024 * 1024, defaultOf('SEQGUARD_MAX_VALUE_BYTES')),
    SEQGUARD_FIRST_SEQ: z
      ._default(z.string(), defaultOf('SEQGUARD_FIRST_SEQ'))
      .check(
        z.refine(
          (v) => toUint63String(v) === v,
          'must be an integer from 0 to 2^63-1, digits only',
        ),
      ),
    SEQGUARD_STREAM_MAX_LEN: integer(0, 1_000_000_000, defaultOf('SEQGUARD_STREAM_MAX_LEN')),
    SEQGUARD_STREAM_MAX_AGE_SECONDS: integer(
      0,
      10 * 365 * 24 * 3600,
      defaultOf('SEQGUARD_STREAM_MAX_AGE_SECONDS'),
    ),
    SEQGUARD_CHUNK_SIZE: integer(1, maxChunkEvents, defaultOf('SEQGUARD_CHUNK_SIZE')),
    SEQGUARD_SHARD_CONCURRENCY: integer(1, 256, defaultOf('SEQGUARD_SHARD_CONCURRENCY')),
    SEQGUARD_KAFKA_BOOTSTRAP: z.optional(z.string()),
    SEQGUARD_MSK_CLUSTER_ARN: z.optional(matching(/^arn:aws[\w-]*:kafka:/, 'an MSK cluster ARN')),
    SEQGUARD_KAFKA_MSK_IAM: z.optional(z.enum(flags)),
    SEQGUARD_KAFKA_CA_FILE: z.optional(nonEmpty()),
    SEQGUARD_METRICS_NAMESPACE: z._default(
      matching(
        metricsNamespacePattern,
        'a CloudWatch namespace: 1-255 characters of A-Z a-z 0-9 . - _ / # : and space, not starting with AWS/',
      ),
      defaultOf('SEQGUARD_METRICS_NAMESPACE'),
    ),
    AWS_REGION: z.optional(z.string()),
  })
  .check(
    z.refine((e) => !e.SEQGUARD_REDIS_CA_FILE || e.REDIS_URL.startsWith('rediss:'), {
      message: 'needs a rediss:// (TLS) REDIS_URL',
      path: ['SEQGUARD_REDIS_CA_FILE'],
    }),
    // WAIT blocks on the node while the command timeout runs in the client: a wait as long as
    // the timeout would be cut off as "unavailable" instead of reported as not replicated.
    z.refine(
      (e) =>
        e.SEQGUARD_REDIS_WAIT_REPLICAS === 0 ||
        e.SEQGUARD_REDIS_WAIT_TIMEOUT_MS < e.SEQGUARD_REDIS_TIMEOUT_MS,
      {
        message: 'must be below SEQGUARD_REDIS_TIMEOUT_MS',
        path: ['SEQGUARD_REDIS_WAIT_TIMEOUT_MS'],
      },
    ),
    z.refine(hasMskIamRegion, mskIamRegionIssue),
  );

/**
 * Kafka's location from SEQGUARD_KAFKA_BOOTSTRAP or SEQGUARD_MSK_CLUSTER_ARN, if either is set.
 * MSK IAM is on with a cluster ARN, or with SEQGUARD_KAFKA_MSK_IAM=true (in AWS_REGION) for
 * bootstrap brokers such as the local secure broker, whose CA SEQGUARD_KAFKA_CA_FILE names.
 */
function kafkaLocation(e: {
  SEQGUARD_KAFKA_BOOTSTRAP?: string | undefined;
  SEQGUARD_MSK_CLUSTER_ARN?: string | undefined;
  SEQGUARD_KAFKA_MSK_IAM?: string | undefined;
  SEQGUARD_KAFKA_CA_FILE?: string | undefined;
  AWS_REGION?: string | undefined;
}): KafkaLocation | undefined {
  if (!e.SEQGUARD_KAFKA_BOOTSTRAP && !e.SEQGUARD_MSK_CLUSTER_ARN) return undefined;
  const arnRegion = e.SEQGUARD_MSK_CLUSTER_ARN?.split(':')[3];
  const mskIam =
    e.SEQGUARD_KAFKA_MSK_IAM === undefined
      ? e.SEQGUARD_MSK_CLUSTER_ARN !== undefined
      : e.SEQGUARD_KAFKA_MSK_IAM === 'true' || e.SEQGUARD_KAFKA_MSK_IAM === '1';
  return {
    bootstrapBrokers: e.SEQGUARD_KAFKA_BOOTSTRAP?.split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    mskClusterArn: e.SEQGUARD_MSK_CLUSTER_ARN,
    mskIamRegion: mskIam ? (arnRegion ?? e.AWS_REGION) : undefined,
    tlsCaFile: e.SEQGUARD_KAFKA_CA_FILE,
  };
}

/** What the environment cannot carry: code. */
export interface ConfigCode {
  /**
   * The registered mutations (core/mutations): the built-in ones when absent. A handler with
   * mutations of its own passes `createMutationRegistry([...builtinMutations, ...its own])`.
   */
  mutations?: MutationRegistry;
}

/**
 * The sink's configuration from `env`, with `code.mutations` set on both the decoder and the
 * guard, so that the two always share one registry.
 */
export function loadSinkConfig(
  env: Record<string, string | undefined>,
  code: ConfigCode = {},
): SinkConfig {
  const parsed = environmentSchema.safeParse(env, inEnglish);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path.map(String);
      return `${path[0]}${path.length > 1 ? ` (${path.slice(1).join('.')})` : ''}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  return {
    redis: {
      url: e.REDIS_URL,
      cluster: e.SEQGUARD_REDIS_CLUSTER,
      commandTimeoutMs: e.SEQGUARD_REDIS_TIMEOUT_MS,
      ...(e.SEQGUARD_REDIS_AUTH_SECRET_ARN
        ? { authSecretArn: e.SEQGUARD_REDIS_AUTH_SECRET_ARN }
        : {}),
      ...(e.SEQGUARD_REDIS_CA_FILE ? { tlsCaFile: e.SEQGUARD_REDIS_CA_FILE } : {}),
    },
    decode: {
      format: e.SEQGUARD_FORMAT,
      mapping: e.SEQGUARD_MAPPING,
      defaultShard: e.SEQGUARD_DEFAULT_SHARD,
      maxValueBytes: e.SEQGUARD_MAX_VALUE_BYTES,
      ...(code.mutations ? { mutations: code.mutations } : {}),
    },
    guard: {
      firstSeq: e.SEQGUARD_FIRST_SEQ,
      streamMaxLen: e.SEQGUARD_STREAM_MAX_LEN,
      streamMaxAgeMs: e.SEQGUARD_STREAM_MAX_AGE_SECONDS * 1000,
      keyPrefix: e.SEQGUARD_KEY_PREFIX,
      replicaWait: {
        replicas: e.SEQGUARD_REDIS_WAIT_REPLICAS,
        timeoutMs: e.SEQGUARD_REDIS_WAIT_TIMEOUT_MS,
      },
      ...(code.mutations ? { mutations: code.mutations } : {}),
    },
    chunkSize: e.SEQGUARD_CHUNK_SIZE,
    shardConcurrency: e.SEQGUARD_SHARD_CONCURRENCY,
    kafka: kafkaLocation(e),
    metricsNamespace: e.SEQGUARD_METRICS_NAMESPACE,
  };
}

export interface DriftConfig {
  sink: SinkConfig;
  kafka: KafkaLocation;
  topics: string[];
  /** The event source mapping's consumer group, whose committed offsets are compared. */
  consumerGroup: string;
  /** Replay what Redis lost (commit ahead of applied) as soon as it is seen. */
  autoReplay: boolean;
  /** Records one run replays at most. */
  replayLimit: number;
  /** State keys with more entries are not summed (reported as such). */
  maxStateEntries: number;
}

const driftEnvironmentSchema = z
  .object({
    SEQGUARD_TOPICS: z.pipe(
      z.string().check(z.minLength(1, 'name the topics the sink consumes, comma-separated')),
      z.transform((v) =>
        v
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      ),
    ),
    SEQGUARD_CONSUMER_GROUP: z
      .string()
      .check(z.minLength(1, "the start of the triggers' consumer group ids (<it>.<topic>)")),
    // Where Kafka is (SEQGUARD_KAFKA_BOOTSTRAP, SEQGUARD_MSK_CLUSTER_ARN, with MSK IAM and the
    // CA) is the sink's setting, parsed and checked with it; here it is required.
    SEQGUARD_KAFKA_BOOTSTRAP: z.optional(z.string()),
    SEQGUARD_MSK_CLUSTER_ARN: z.optional(z.string()),
    SEQGUARD_AUTO_REPLAY: flag(defaultOf('SEQGUARD_AUTO_REPLAY')),
    SEQGUARD_REPLAY_LIMIT: integer(1, 1_000_000, defaultOf('SEQGUARD_REPLAY_LIMIT')),
    SEQGUARD_MAX_STATE_ENTRIES: integer(0, 100_000_000, defaultOf('SEQGUARD_MAX_STATE_ENTRIES')),
  })
  .check(
    z.refine((e) => Boolean(e.SEQGUARD_KAFKA_BOOTSTRAP || e.SEQGUARD_MSK_CLUSTER_ARN), {
      message: 'set SEQGUARD_KAFKA_BOOTSTRAP (host:port,…) or SEQGUARD_MSK_CLUSTER_ARN',
      path: ['SEQGUARD_KAFKA_BOOTSTRAP'],
    }),
  );

export function loadDriftConfig(
  env: Record<string, string | undefined>,
  code: ConfigCode = {},
): DriftConfig {
  let sink: SinkConfig | undefined;
  const problems: string[] = [];
  try {
    sink = loadSinkConfig(env, code);
  } catch (error) {
    problems.push((error as Error).message.replace(/^invalid configuration:\n {2}/, ''));
  }
  const parsed = driftEnvironmentSchema.safeParse(env, inEnglish);
  if (!parsed.success) {
    problems.push(
      ...parsed.error.issues.map(
        (issue) => `${String(issue.path[0] ?? 'environment')}: ${issue.message}`,
      ),
    );
  }
  if (problems.length > 0 || !sink || !parsed.success) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  return {
    sink,
    kafka: sink.kafka as KafkaLocation,
    topics: e.SEQGUARD_TOPICS,
    consumerGroup: e.SEQGUARD_CONSUMER_GROUP,
    autoReplay: e.SEQGUARD_AUTO_REPLAY,
    replayLimit: e.SEQGUARD_REPLAY_LIMIT,
    maxStateEntries: e.SEQGUARD_MAX_STATE_ENTRIES,
  };
}
