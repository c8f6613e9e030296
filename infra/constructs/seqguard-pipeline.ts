/**
 * The whole pipeline as one construct: the three functions, the Kafka trigger, the drift check's
 * schedule, the alarms and the dashboard, bound to the data they work on. Where the data is:
 * - `data`: a SeqguardData of this app (the app keeps it in a stack of its own);
 * - `config.existing`: a VPC, MSK cluster and ElastiCache cache the user already runs (given as
 *   attributes, never looked up, so `cdk synth` stays offline);
 * - neither: the construct makes its own SeqguardData, beside the functions.
 *
 * `config` is what `resolveConfig()` (infra/config.ts) makes of the settings: the same settings
 * `cdk.json`'s context holds, with every problem named at synth.
 */
import { Construct } from 'constructs';
import { cacheName, type SeqguardConfig } from '../config.ts';
import { ExistingClusters } from './existing-clusters.ts';
import type { MskAccess } from './msk-access.ts';
import { Pipeline } from './pipeline.ts';
import { SeqguardData } from './seqguard-data.ts';
import type { SeqguardFunction, SeqguardHandlerEntries } from './seqguard-function.ts';

export interface SeqguardPipelineProps {
  config: SeqguardConfig;
  /** The data to bind to; omitted: `config.existing`, or a SeqguardData made here. */
  data?: SeqguardData;
  /**
   * Handler modules of your own, by function name, for mutations of your own: each composes the
   * function's factory from `seqguard/functions` with your registry (docs/your-own-mutation.md).
   * A function not named here runs the package's own handler (the built-in mutations).
   */
  handlers?: SeqguardHandlerEntries;
}

export class SeqguardPipeline extends Construct {
  readonly pipeline: Pipeline;
  /** The data this pipeline binds to, unless the clusters are the user's own. */
  readonly data: SeqguardData | undefined;
  /** Present when the clusters are the user's. */
  readonly existing: ExistingClusters | undefined;

  constructor(scope: Construct, id: string, props: SeqguardPipelineProps) {
    super(scope, id);
    const { config } = props;
    let kafka: MskAccess;
    let redisClient: (fn: SeqguardFunction) => void;
    if (!props.data && config.existing) {
      const existing = new ExistingClusters(this, 'Existing', config.existing);
      this.existing = existing;
      kafka = existing.kafka;
      redisClient = (fn) => existing.bindRedisClient(fn);
    } else {
      const data = props.data ?? new SeqguardData(this, 'Data', { config });
      this.data = data;
      kafka = data.kafka.access;
      redisClient = (fn) => data.redis.bindClient(fn);
    }
    const data = this.data;
    this.pipeline = new Pipeline(this, 'Pipeline', {
      config,
      vpc: data ? data.network.vpc : (this.existing as ExistingClusters).vpc,
      // The data services are watched when this deployment created them; brought ones are
      // watched by their owners (their names and node counts are not known here).
      ...(data
        ? {
            watch: {
              kafka: {
                mode: config.kafka.mode,
                clusterName: data.kafka.clusterName,
                brokers: config.azCount * config.kafka.brokersPerAz,
              },
              redis: {
                mode: config.redis.mode,
                name: cacheName(config.prefix),
                shards: config.redis.shards,
                nodesPerShard: 1 + config.redis.replicasPerShard,
                serverlessMaxDataGiB: config.redis.serverlessMaxDataGiB,
              },
            },
          }
        : {}),
      ...(props.handlers ? { handlers: props.handlers } : {}),
      bind: {
        redisClient,
        kafkaTrigger: (fn, target) =>
          kafka.bindEventSource(
            fn,
            {
              topics: config.topics,
              consumerGroupId: config.consumerGroupId,
              deadLetterTopic: config.deadLetterTopic,
              ...config.eventSource,
            },
            target,
          ),
        kafkaReader: (fn) =>
          kafka.bindReader(fn, {
            topics: config.topics,
            consumerGroupId: config.consumerGroupId,
          }),
      },
    });
  }
}
