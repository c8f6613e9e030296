/**
 * The functions' environment variables: every name once, with its default where it has one.
 * The functions read them (config.ts, thresholds.ts), the CDK constructs set them (infra/), the
 * local runtime and the operator CLI set or read them; all by these names, typed, so a misspelt
 * name does not compile. docs/configuration.md documents each; test/unit/config/environment.test.ts holds
 * the page to this table.
 */
import { defaultKeyPrefix } from '../layout/keys.ts';

/** Which functions read a variable: the sink's are read by all three. */
type ReadBy = 'all' | 'apply-events, check-drift' | 'check-drift, replay';

interface Variable {
  readBy: ReadBy;
  /** The value used when the variable is unset; absent: required, or off. */
  default?: string | number | boolean;
}

export const environmentVariables = {
  REDIS_URL: { readBy: 'all' },
  SEQGUARD_REDIS_CLUSTER: { readBy: 'all', default: false },
  SEQGUARD_REDIS_AUTH_SECRET_ARN: { readBy: 'all' },
  SEQGUARD_REDIS_CA_FILE: { readBy: 'all' },
  SEQGUARD_REDIS_TIMEOUT_MS: { readBy: 'all', default: 2_000 },
  SEQGUARD_REDIS_WAIT_REPLICAS: { readBy: 'all', default: 0 },
  SEQGUARD_REDIS_WAIT_TIMEOUT_MS: { readBy: 'all', default: 500 },
  SEQGUARD_KEY_PREFIX: { readBy: 'all', default: defaultKeyPrefix },
  SEQGUARD_FORMAT: { readBy: 'all', default: 'envelope' },
  SEQGUARD_MAPPING: { readBy: 'all', default: '{}' },
  SEQGUARD_DEFAULT_SHARD: { readBy: 'all', default: 'default' },
  SEQGUARD_MAX_VALUE_BYTES: { readBy: 'all', default: 64 * 1024 },
  SEQGUARD_FIRST_SEQ: { readBy: 'all', default: '1' },
  SEQGUARD_STREAM_MAX_LEN: { readBy: 'all', default: 1_000_000 },
  SEQGUARD_STREAM_MAX_AGE_SECONDS: { readBy: 'all', default: 7 * 24 * 3600 },
  SEQGUARD_CHUNK_SIZE: { readBy: 'all', default: 500 },
  SEQGUARD_SHARD_CONCURRENCY: { readBy: 'all', default: 8 },
  SEQGUARD_KAFKA_BOOTSTRAP: { readBy: 'all' },
  SEQGUARD_MSK_CLUSTER_ARN: { readBy: 'all' },
  SEQGUARD_KAFKA_MSK_IAM: { readBy: 'all' },
  SEQGUARD_KAFKA_CA_FILE: { readBy: 'all' },
  // The two that publish metrics; replay publishes none.
  SEQGUARD_METRICS_NAMESPACE: { readBy: 'apply-events, check-drift', default: 'seqguard' },
  SEQGUARD_TOPICS: { readBy: 'check-drift, replay' },
  SEQGUARD_CONSUMER_GROUP: { readBy: 'check-drift, replay' },
  SEQGUARD_AUTO_REPLAY: { readBy: 'check-drift, replay', default: true },
  SEQGUARD_REPLAY_LIMIT: { readBy: 'check-drift, replay', default: 10_000 },
  SEQGUARD_MAX_STATE_ENTRIES: { readBy: 'check-drift, replay', default: 1_000_000 },
  SEQGUARD_THRESHOLDS: { readBy: 'check-drift, replay' },
} as const satisfies Record<string, Variable>;

export type EnvironmentVariable = keyof typeof environmentVariables;

/** The variables that have a default, and their default's type. */
type Defaults = {
  [K in EnvironmentVariable as (typeof environmentVariables)[K] extends { default: unknown }
    ? K
    : never]: (typeof environmentVariables)[K] extends { default: infer D } ? D : never;
};

/** The default of a variable: `defaultOf('SEQGUARD_CHUNK_SIZE')` is 500. */
export function defaultOf<K extends keyof Defaults>(name: K): Defaults[K] {
  return (environmentVariables[name] as unknown as { default: Defaults[K] }).default;
}

/** Every name of the table, for checking a map of variables (the CDK's `sinkEnvironment`). */
export const environmentVariableNames = Object.keys(environmentVariables) as EnvironmentVariable[];
