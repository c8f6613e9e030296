/**
 * The deployment's settings, from CDK context (`cdk.json`, `-c key=value`, or
 * `cdk.context.json`), validated once with every problem named. Alarm thresholds are not here:
 * they come from `core/config/thresholds.ts`, the one definition the alarms share with the
 * local runtime, overridden by the `thresholds` context value exactly as SEQGUARD_THRESHOLDS
 * overrides them for the functions.
 */
import type { Node } from 'constructs';
import { z } from 'zod';
import {
  ConfigError,
  environmentVariableNames,
  loadThresholds,
  type Thresholds,
  triggerDefaults,
} from '../core/index.ts';

import { mskClusterArnPattern, mskIamPort } from './constructs/msk-access.ts';

const logRetentionPeriods = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];

/**
 * Lambda developer guide, "Low latency processing for Kafka event sources": provisioned mode and
 * MaximumBatchingWindowInSeconds 0 for consistent end-to-end latencies under 100 ms.
 */
export const lowLatencyGuide =
  'https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-low-latency.html';

const provisionedConcurrencyRule =
  'a whole number of execution environments of apply-events to keep initialized, 0 (none) or more';

/**
 * A zone name of a region (us-east-1a, ap-southeast-2c): the region and one letter. Local Zones
 * and Wavelength Zones (us-east-1-bos-1a) do not match; MSK brokers go in availability zones.
 */
const zoneNamePattern = /^[a-z]{2}(-[a-z]+)+-\d+[a-z]$/;

/** `us-east-1a` → `us-east-1`. */
export const regionOfZone = (zone: string) => zone.slice(0, -1);

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name');

/** Context values arrive as strings from `-c key=value` and as JSON from cdk.json. */
const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }, schema);

const flag = (fallback: boolean) =>
  z.preprocess(
    (v) => (v === 'true' ? true : v === 'false' ? false : v),
    z.boolean().default(fallback),
  );

const integer = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const awsId = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `${what} (${prefix}-…)`);

/**
 * Clusters the user already runs (docs/deploying.md, "Bring your own clusters"). Everything is given as
 * attributes, never looked up, so `cdk synth` stays offline.
 */
const existingSchema = z
  .object({
    vpcId: awsId('vpc', 'a VPC id'),
    /** Zones of `subnetIds`, in the same order (Vpc.fromVpcAttributes needs them at synth). */
    availabilityZones: z
      .array(z.string().regex(/^[a-z]{2}(-[a-z0-9]+)+[a-z]$/, 'an availability zone (eu-west-1a)'))
      .min(1),
    /** Subnets of the functions: they must reach the brokers, the cache and Secrets Manager. */
    subnetIds: z.array(awsId('subnet', 'a subnet id')).min(1),
    kafka: z
      .object({
        clusterArn: z
          .string()
          .regex(
            mskClusterArnPattern,
            'an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>)',
          ),
        /** The IAM bootstrap brokers (`aws kafka get-bootstrap-brokers`, BootstrapBrokerStringSaslIam). */
        bootstrapBrokers: z
          .string()
          .regex(
            new RegExp(`^[A-Za-z0-9.-]+:${mskIamPort}(,[A-Za-z0-9.-]+:${mskIamPort})*$`),
            `host:${mskIamPort},…: the cluster's IAM listener inside AWS (BootstrapBrokerStringSaslIam)`,
          ),
        /** The cluster's security groups; the first one lets the functions in on 9098. */
        securityGroupIds: z.array(awsId('sg', 'a security group id')).min(1).max(5),
        /** The cluster's client subnets, when they are not `subnetIds` (the trigger's interfaces go there). */
        subnetIds: z.array(awsId('subnet', 'a subnet id')).min(1).optional(),
      })
      .strict(),
    redis: z
      .object({
        /** The configuration (cluster mode) or primary endpoint: TLS only. */
        url: z
          .string()
          .regex(
            /^rediss:\/\/[A-Za-z0-9.-]+:\d{1,5}$/,
            'rediss://<host>:<port> (TLS, no credentials: they come from the secret)',
          ),
        /** Cluster mode on (ElastiCache Serverless always is). */
        cluster: z.boolean(),
        /** `{"username", "password"}` of the RBAC user the functions connect as. */
        authSecretArn: z
          .string()
          .regex(
            /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/,
            'a complete Secrets Manager secret ARN, ending in the six characters Secrets Manager appends (…:secret:<name>-AbCdEf)',
          ),
        /** The secret's customer managed KMS key; omit for the AWS managed key. */
        authSecretKeyArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'a KMS key ARN')
          .optional(),
        /** A security group of the cache: it lets the functions in on the URL's port. */
        securityGroupId: awsId('sg', 'a security group id'),
      })
      .strict(),
  })
  .strict();

/**
 * The variables the stack derives from other settings: SEQGUARD_METRICS_NAMESPACE is the prefix,
 * because the alarms read that namespace; set apart, the functions would publish where no alarm
 * looks.
 */
const stackVariables: ReadonlySet<string> = new Set(['SEQGUARD_METRICS_NAMESPACE']);

/** What `sinkEnvironment` may set: the functions' own variables (the stack sets REDIS_URL). */
const sinkVariables = environmentVariableNames.filter(
  (name) => name.startsWith('SEQGUARD_') && !stackVariables.has(name),
);

export const contextSchema = z.object({
  /**
   * Prefix of every stack and resource name. It starts the ElastiCache ids (`<prefix>-state`,
   * users, user group), whose rules are the strictest: a letter first, then letters, digits and
   * single hyphens, no hyphen at the end (ElastiCache API, CreateReplicationGroup,
   * ReplicationGroupId); MSK cluster names take the same characters.
   */
  prefix: z
    .string()
    .regex(
      /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,20}$/,
      'ElastiCache and MSK names: 2-21 lower-case letters, digits and single hyphens, starting with a letter, not ending with a hyphen (no "--")',
    )
    .default('seqguard'),
  /**
   * Keep the brokers, the cache, their keys and secret, and the log groups when the stacks are
   * destroyed, and turn on termination protection of the data stack. `false` for sandboxes.
   */
  retainData: flag(true),
  /** Availability zones (and private subnets) used; MSK needs a broker in each. */
  azCount: integer(2, 3, 3),
  /**
   * The zones by name, instead of the region's first `azCount` (Fn::GetAZs). MSK does not
   * support every zone of some regions (infra/constructs/msk-zones.ts), and a zone name maps to a
   * different zone ID in each account, so only the user can pick the right ones. Its length is
   * the zone count.
   */
  availabilityZones: json(
    z
      .array(z.string().regex(zoneNamePattern, 'an availability zone name (us-east-1a)'))
      .min(2, 'two or three zones: MSK puts its brokers in two or three')
      .max(3, 'two or three zones: MSK puts its brokers in two or three')
      .refine((zones) => new Set(zones).size === zones.length, 'each zone once')
      .refine(
        (zones) => new Set(zones.map(regionOfZone)).size === 1,
        "zones of one region (the stack's)",
      ),
  ).optional(),
  kafka: json(
    z
      .object({
        /** `provisioned` (brokers you size) or `serverless` (MSK Serverless). */
        mode: z.enum(['provisioned', 'serverless']).default('provisioned'),
        kafkaVersion: z.string().default('3.8.x'),
        brokerInstanceType: z.string().default('kafka.m7g.large'),
        brokersPerAz: integer(1, 10, 1),
        volumeGiB: integer(1, 16_384, 100),
      })
      .strict()
      .prefault({}),
  ),
  redis: json(
    z
      .object({
        /** `cluster` (ElastiCache node-based, cluster mode) or `serverless` (ElastiCache Serverless). */
        mode: z.enum(['cluster', 'serverless']).default('cluster'),
        engine: z.enum(['valkey', 'redis']).default('valkey'),
        engineVersion: z.string().default('8.0'),
        nodeType: z.string().default('cache.t4g.medium'),
        shards: integer(1, 500, 1),
        replicasPerShard: integer(1, 5, 1),
        port: integer(1024, 65_535, 6379),
        /** ElastiCache Serverless limits, so a runaway producer cannot run up the bill. */
        serverlessMaxDataGiB: integer(1, 5_000, 10),
        serverlessMaxEcpuPerSecond: integer(1_000, 15_000_000, 100_000),
      })
      .strict()
      .prefault({}),
  ),
  /** The topics apply-events consumes; the first Kafka stage creates them. */
  topics: json(z.array(topicName).min(1)).default(['seqguard.events']),
  partitions: integer(1, 10_000, 6),
  /** The ESM's on-failure destination (a topic on the same cluster). */
  deadLetterTopic: topicName.default('seqguard.events.failed'),
  /**
   * The triggers' consumer group ids start with it: each topic's is `<consumerGroupId>.<topic>`
   * (core/kafka/consumer-groups.ts); check-drift compares those groups' commits with Redis.
   * `<prefix>-apply-events` unless given, so that two deployments with different prefixes in
   * one account never share a group: a group id "must be unique among all your Kafka event
   * sources" (https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html).
   */
  consumerGroupId: z
    .string()
    .regex(/^[a-zA-Z0-9-/*:_+=.@]{1,200}$/, 'an event source mapping consumer group id')
    .optional(),
  eventSource: json(
    z
      .object({
        /**
         * Low-latency mode: what AWS documents for end-to-end latencies under 100 ms (Lambda
         * developer guide, "Low latency processing for Kafka event sources", lowLatencyGuide).
         * The mapping is always in provisioned mode here; this sets the batching window to 0
         * (required: the records at hand go to the function at once) and the maximum pollers to
         * the minimum (recommended: poller autoscaling rebalances the consumer group, which adds
         * latency). docs/performance.md, "Low-latency mode", has the measured curve.
         */
        lowLatency: flag(false),
        batchSize: integer(1, 10_000, triggerDefaults.batchSize),
        /** 1 s by default; 0 in low-latency mode, where it must be 0. */
        maxBatchingWindowSeconds: z.coerce.number().int().min(0).max(300).optional(),
        /** Bounded: after these the batch goes to the dead-letter topic. */
        retryAttempts: integer(0, 10_000, triggerDefaults.retryAttempts),
        /** Records older than this go to the dead-letter topic instead of the function. */
        maxRecordAgeSeconds: integer(60, 604_800, triggerDefaults.maxRecordAgeSeconds),
        minimumPollers: integer(1, 200, triggerDefaults.minimumPollers),
        /** 3 by default; minimumPollers in low-latency mode (no autoscaling). */
        maximumPollers: z.coerce.number().int().min(1).max(2_000).optional(),
        startingPosition: z
          .enum(['TRIM_HORIZON', 'LATEST'])
          .default(triggerDefaults.startingPosition),
      })
      .strict()
      .superRefine((es, ctx) => {
        if (
          es.lowLatency &&
          es.maxBatchingWindowSeconds !== undefined &&
          es.maxBatchingWindowSeconds !== 0
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['maxBatchingWindowSeconds'],
            message: `must be 0 (or left out) with lowLatency: low-latency processing requires MaximumBatchingWindowInSeconds 0 (${lowLatencyGuide})`,
          });
        }
      })
      .transform((es) => ({
        ...es,
        maxBatchingWindowSeconds:
          es.maxBatchingWindowSeconds ??
          (es.lowLatency ? 0 : triggerDefaults.maxBatchingWindowSeconds),
        maximumPollers:
          es.maximumPollers ?? (es.lowLatency ? es.minimumPollers : triggerDefaults.maximumPollers),
      }))
      .prefault({}),
  ),
  /**
   * Execution environments of apply-events kept initialized, against cold starts (0: none). AWS
   * recommends it for low latency (lowLatencyGuide, "Additional considerations"). Provisioned
   * concurrency is set on a published version or an alias, never on $LATEST, so with it the
   * trigger invokes the alias `live` (infra/constructs/pipeline.ts). It is billed for as long
   * as it is configured, used or not.
   */
  provisionedConcurrency: z
    .preprocess(
      // `-c provisionedConcurrency=2` arrives as a string; nothing else is taken for a number
      // (z.coerce would read true as 1 and "" as 0).
      (v) => (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v),
      z
        .number({ error: provisionedConcurrencyRule })
        .int(provisionedConcurrencyRule)
        .min(0, provisionedConcurrencyRule),
    )
    .default(0),
  /** Extra environment of the three functions: SEQGUARD_FORMAT, SEQGUARD_MAPPING, … */
  sinkEnvironment: json(
    z.partialRecord(z.enum(sinkVariables), z.string(), {
      // zod 4 reports a key outside the enum as `unrecognized_keys`, which the types of a
      // record's issues leave out.
      error: (raw) => {
        const issue = raw as unknown as { code: string; keys?: string[] };
        if (issue.code !== 'unrecognized_keys' || !issue.keys) return undefined;
        return issue.keys
          .map((key) =>
            stackVariables.has(key)
              ? `${key} is set by the stack, from \`prefix\` (docs/configuration.md)`
              : `not one of the functions' variables (docs/configuration.md): ${key}`,
          )
          .join('; ');
      },
    }),
  ).prefault({}),
  /** JSON overrides of core/config/thresholds.ts, e.g. {"timeLagSeconds": 60}. */
  thresholds: json(z.record(z.string(), z.number())).prefault({}),
  /** Minutes an alarm's metric must breach before it pages (all of them, consecutively). */
  alarmMinutes: integer(1, 60, 3),
  /** One of CloudWatch Logs' retention periods (days). */
  logRetentionDays: z.coerce
    .number()
    .refine((d) => logRetentionPeriods.includes(d), `one of ${logRetentionPeriods.join(', ')}`)
    .default(365),
  /**
   * Who is paged when an alarm fires, or, with `none`, why nobody is: a decision either way.
   * Without one, resolveConfig refuses (pagingRefusal): a tool that pages on drift must not
   * deploy deaf by default.
   */
  paging: json(
    z
      .object({
        /** A PagerDuty Events API v2 CloudWatch integration URL (HTTPS). */
        pagerDutyUrl: z.url({ protocol: /^https$/ }).optional(),
        /** Each address must confirm its subscription before it receives anything. */
        emails: z.array(z.email()).default([]),
        /** AWS Chatbot: the Slack workspace must be authorised once in the Chatbot console. */
        slack: z
          .object({ workspaceId: z.string().min(1), channelId: z.string().min(1) })
          .strict()
          .optional(),
        /** Nobody is paged, on purpose: the reason (a sandbox, a test), shown at every synth. */
        none: z.string().trim().min(1, 'the reason nobody is paged, in words').optional(),
      })
      .strict()
      .optional(),
  ),
  /**
   * Bring your own VPC, MSK cluster and ElastiCache cache: only the pipeline stack is defined,
   * bound to them.
   */
  existing: json(existingSchema).optional(),
  /** LocalStack stage: what stands in for MSK and ElastiCache. */
  localstack: json(
    z
      .object({
        /** Brokers as LocalStack's Lambda containers reach them. */
        kafkaBootstrap: z.string().default('host.docker.internal:9092'),
        redisUrl: z.string().default('redis://host.docker.internal:6379'),
        /** The self-managed Kafka trigger is a LocalStack paid-tier feature. */
        kafkaTrigger: flag(false),
      })
      .strict()
      .prefault({}),
  ),
});

/** What to set when `paging` decides nothing: named in the error, and in docs/deploying.md. */
const pagingRefusal =
  'paging: nobody would be paged. Decide who is: set the `paging` context (cdk.json, or -c paging=\'{…}\') to {"pagerDutyUrl": "https://…"}, {"emails": ["oncall@…"]} and/or {"slack": {"workspaceId": "…", "channelId": "…"}}; or, for a deployment nobody watches, say so and why: {"none": "<why>"} (docs/deploying.md#alarms-and-paging)';

/** The paging targets, or none (with its reason), once decided. */
type Paging = NonNullable<SeqguardContext['paging']>;

/** True when `paging` names at least one target. */
function pagesSomeone(paging: Paging): boolean {
  return (
    paging.pagerDutyUrl !== undefined || paging.emails.length > 0 || paging.slack !== undefined
  );
}

/** The MSK cluster's name, and the ElastiCache cache's id (`<prefix>-…`): the one place. */
export const kafkaClusterName = (prefix: string) => `${prefix}-kafka`;
export const cacheName = (prefix: string) => `${prefix}-state`;

export type SeqguardContext = z.output<typeof contextSchema>;
export type ExistingClustersContext = z.output<typeof existingSchema>;

export interface SeqguardConfig extends Omit<SeqguardContext, 'paging' | 'consumerGroupId'> {
  /** Who is paged, or why nobody is: always decided. */
  paging: Paging;
  /** The base of the triggers' consumer group ids, defaulted from the prefix. */
  consumerGroupId: string;
  thresholdValues: Thresholds;
}

/** The base of the triggers' consumer group ids when `consumerGroupId` is not given. */
const defaultConsumerGroupId = (prefix: string) => `${prefix}-apply-events`;

/** The settings as a user writes them: every key optional, defaults as documented. */
export type SeqguardSettings = z.input<typeof contextSchema>;

/**
 * The zone count: the length of `availabilityZones` when it is set (an `azCount` beside it must
 * agree), else `azCount`. A string is the problem to report.
 */
function zoneCountOf(raw: Record<string, unknown>, config: SeqguardContext): number | string {
  const zones = config.availabilityZones;
  if (!zones) return config.azCount;
  if (config.existing) {
    return 'availabilityZones: not used with existing (existing.availabilityZones names the zones of your subnets)';
  }
  if (raw.azCount !== undefined && config.azCount !== zones.length) {
    return `azCount: ${config.azCount}, but availabilityZones names ${zones.length} zones; leave azCount out (the zones' count is used)`;
  }
  return zones.length;
}

/**
 * Every key of the schema, read from the construct tree's context; `fallback` gives a stage's
 * own defaults (the LocalStack stage's paging decision) under what the context says.
 */
export function loadConfig(node: Node, fallback: SeqguardSettings = {}): SeqguardConfig {
  const raw: Record<string, unknown> = { ...fallback };
  for (const key of Object.keys(contextSchema.shape)) {
    const value = node.tryGetContext(key);
    if (value !== undefined) raw[key] = value;
  }
  return resolveConfig(raw, 'CDK context');
}

/**
 * The settings (cdk.json's context, or an object a user's app passes to the constructs), checked,
 * with the defaults filled in; every problem is named in one ConfigError.
 */
export function resolveConfig(
  settings: SeqguardSettings | Record<string, unknown> = {},
  source = 'seqguard settings',
): SeqguardConfig {
  const parsed = contextSchema.safeParse(settings);
  const invalid = (problems: string) => new ConfigError(`invalid ${source}:\n  ${problems}`);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw invalid(problems.join('\n  '));
  }
  const config = parsed.data;
  if (config.eventSource.minimumPollers > config.eventSource.maximumPollers) {
    throw invalid('eventSource: minimumPollers > maximumPollers');
  }
  const zoneCount = zoneCountOf(settings as Record<string, unknown>, config);
  if (typeof zoneCount === 'string') throw invalid(zoneCount);
  config.azCount = zoneCount;
  const existing = config.existing;
  if (existing && existing.subnetIds.length % existing.availabilityZones.length !== 0) {
    throw invalid(
      'existing.subnetIds: one subnet per zone of existing.availabilityZones (or a multiple), in the same order',
    );
  }
  if (config.topics.includes(config.deadLetterTopic)) {
    throw invalid('deadLetterTopic: must not be a consumed topic');
  }
  const paging = config.paging;
  if (paging === undefined || (!pagesSomeone(paging) && paging.none === undefined)) {
    throw invalid(pagingRefusal);
  }
  if (paging.none !== undefined && pagesSomeone(paging)) {
    throw invalid(
      'paging: "none" says nobody is paged, so it takes no targets; keep one or the other',
    );
  }
  const consumerGroupId = config.consumerGroupId ?? defaultConsumerGroupId(config.prefix);
  // The longest topic's trigger group must still be a valid group id (at most 200 characters).
  const longest = Math.max(...config.topics.map((t) => t.length));
  if (consumerGroupId.length + 1 + longest > 200) {
    throw invalid(
      `consumerGroupId: "<consumerGroupId>.<topic>" must be at most 200 characters (a consumer group id's limit); shorten consumerGroupId or the topic names`,
    );
  }
  return {
    ...config,
    paging,
    consumerGroupId,
    thresholdValues: loadThresholds({ SEQGUARD_THRESHOLDS: JSON.stringify(config.thresholds) }),
  };
}
