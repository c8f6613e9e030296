/**
 * The stateful stack: the network, the Kafka brokers with their topics, the Redis cache and the
 * key that encrypts them. Kept apart from the functions so a change to code or alarms never
 * touches the data, and protected from deletion unless `retainData` is off.
 */
import { Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { SeqguardConfig } from '../config.ts';
import { KafkaCluster } from '../constructs/kafka-cluster.ts';
import { Network } from '../constructs/network.ts';
import { RedisCache } from '../constructs/redis-cache.ts';

export interface DataStackProps extends StackProps {
  config: SeqguardConfig;
}

export class DataStack extends Stack {
  readonly network: Network;
  readonly kafka: KafkaCluster;
  readonly redis: RedisCache;
  readonly key: kms.Key;
  private zones: string[] | undefined;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    const { config } = props;
    super(scope, id, { terminationProtection: config.retainData, ...props });
    this.zones = Array.from({ length: config.azCount }, (_, i) => Fn.select(i, Fn.getAzs()));
    const retain = config.retainData;

    this.key = new kms.Key(this, 'DataKey', {
      description: `${config.prefix}: encrypts the Kafka volumes, the Redis data and its secret`,
      enableKeyRotation: true,
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.network = new Network(this, 'Network', {
      azCount: config.azCount,
      availabilityZones: this.zones,
      logRetentionDays: config.logRetentionDays,
      retainLogs: retain,
    });
    this.kafka = new KafkaCluster(this, 'Kafka', {
      clusterName: `${config.prefix}-kafka`,
      mode: config.kafka.mode,
      vpc: this.network.vpc,
      pollerEndpoints: [this.network.endpoints.lambda, this.network.endpoints.sts],
      kafkaVersion: config.kafka.kafkaVersion,
      brokerInstanceType: config.kafka.brokerInstanceType,
      brokersPerAz: config.kafka.brokersPerAz,
      volumeGiB: config.kafka.volumeGiB,
      key: this.key,
      logRetentionDays: config.logRetentionDays,
      retain,
      topics: [...config.topics, config.deadLetterTopic].map((name) => ({
        name,
        partitions: config.partitions,
      })),
    });
    this.redis = new RedisCache(this, 'Redis', {
      name: `${config.prefix}-state`,
      mode: config.redis.mode,
      engine: config.redis.engine,
      engineVersion: config.redis.engineVersion,
      nodeType: config.redis.nodeType,
      shards: config.redis.shards,
      replicasPerShard: config.redis.replicasPerShard,
      port: config.redis.port,
      serverlessMaxDataGiB: config.redis.serverlessMaxDataGiB,
      serverlessMaxEcpuPerSecond: config.redis.serverlessMaxEcpuPerSecond,
      vpc: this.network.vpc,
      key: this.key,
      secretsEndpoint: this.network.endpoints.secretsManager,
      retain,
    });
  }

  /**
   * The region's zones as Fn::GetAZs tokens: `cdk synth` then needs no availability-zone lookup
   * (and so no AWS credentials) even when account and region are concrete.
   */
  override get availabilityZones(): string[] {
    return this.zones ?? super.availabilityZones;
  }
}
