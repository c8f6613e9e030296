/**
 * The stateless stack: the functions, their triggers and schedule, IAM, alarms and dashboard,
 * bound either to the brokers and the cache of the data stack, or to a VPC, MSK cluster and
 * ElastiCache cache the user brings (`existing` in CDK context; then this is the only stack).
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { cacheName, type ExistingClustersContext, type SeqguardConfig } from '../config.ts';
import { ExistingClusters } from '../constructs/existing-clusters.ts';
import type { MskAccess } from '../constructs/msk-access.ts';
import { Pipeline } from '../constructs/pipeline.ts';
import type { SeqguardFunction } from '../constructs/seqguard-function.ts';
import type { DataStack } from './data-stack.ts';

export interface PipelineStackProps extends StackProps {
  config: SeqguardConfig;
  /** Where the data lives: this deployment's data stack, or the user's own clusters. */
  clusters: { data: DataStack } | { existing: ExistingClustersContext };
}

export class PipelineStack extends Stack {
  readonly pipeline: Pipeline;
  /** Present when the clusters are the user's. */
  readonly existing: ExistingClusters | undefined;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config, clusters } = props;
    let kafka: MskAccess;
    let redisClient: (fn: SeqguardFunction) => void;
    if ('data' in clusters) {
      const { data } = clusters;
      this.addStackDependency(data);
      kafka = data.kafka.access;
      redisClient = (fn) => data.redis.bindClient(fn);
    } else {
      const existing = new ExistingClusters(this, 'Existing', clusters.existing);
      this.existing = existing;
      kafka = existing.kafka;
      redisClient = (fn) => existing.bindRedisClient(fn);
    }
    const data = 'data' in clusters ? clusters.data : undefined;
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
      bind: {
        redisClient,
        kafkaTrigger: (fn) =>
          kafka.bindEventSource(fn, {
            topics: config.topics,
            consumerGroupId: config.consumerGroupId,
            deadLetterTopic: config.deadLetterTopic,
            ...config.eventSource,
          }),
        kafkaReader: (fn) =>
          kafka.bindReader(fn, {
            topics: config.topics,
            consumerGroupId: config.consumerGroupId,
          }),
      },
    });
  }
}
