/**
 * The stateless stack: the functions, their triggers and schedule, IAM, alarms and dashboard,
 * bound to the brokers and the cache of the data stack.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { cacheName, type SeqguardConfig } from '../config.ts';
import { Pipeline } from '../constructs/pipeline.ts';
import type { DataStack } from './data-stack.ts';

export interface PipelineStackProps extends StackProps {
  config: SeqguardConfig;
  data: DataStack;
}

export class PipelineStack extends Stack {
  readonly pipeline: Pipeline;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config, data } = props;
    this.addStackDependency(data);
    this.pipeline = new Pipeline(this, 'Pipeline', {
      config,
      vpc: data.network.vpc,
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
      bind: {
        redisClient: (fn) => data.redis.bindClient(fn),
        kafkaTrigger: (fn) =>
          data.kafka.access.bindEventSource(fn, {
            topics: config.topics,
            consumerGroupId: config.consumerGroupId,
            deadLetterTopic: config.deadLetterTopic,
            ...config.eventSource,
          }),
        kafkaReader: (fn) =>
          data.kafka.access.bindReader(fn, {
            topics: config.topics,
            consumerGroupId: config.consumerGroupId,
          }),
      },
    });
  }
}
