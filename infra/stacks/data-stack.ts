/**
 * The stateful stack: the network, the Kafka brokers with their topics, the Redis cache and the
 * key that encrypts them. Kept apart from the functions so a change to code or alarms never
 * touches the data, and protected from deletion unless `retainData` is off.
 */
import {
  Aspects,
  CfnResource,
  Fn,
  type IAspect,
  RemovalPolicy,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct, IConstruct } from 'constructs';
import { defaultKeyPrefix } from '../../functions/shared/redis/keys.ts';
import { cacheName, kafkaClusterName, type SeqguardConfig } from '../config.ts';
import { awsCustomResourceProviderId, KafkaCluster } from '../constructs/kafka-cluster.ts';
import { Network } from '../constructs/network.ts';
import { RedisCache } from '../constructs/redis-cache.ts';

/**
 * `retainData` keeps the data stack whole: a retained cluster or cache still uses its subnets,
 * security groups, subnet group, parameter group, users and user group, KMS key and secret, and
 * CloudFormation cannot delete a VPC, subnet or security group that a retained cluster's network
 * interfaces still use, so retaining only the clusters makes `cdk destroy` fail half way. Every
 * resource of the stack is kept, except the deploy-time lookup of the bootstrap brokers
 * (a custom resource and its provider function), which nothing kept depends on.
 */
class RetainData implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof CfnResource)) return;
    const path = node.node.path;
    if (path.includes('/BootstrapBrokers/') || path.includes(`/${awsCustomResourceProviderId}/`))
      return;
    node.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}

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
      clusterName: kafkaClusterName(config.prefix),
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
      name: cacheName(config.prefix),
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
      keyPrefix: config.sinkEnvironment.SEQGUARD_KEY_PREFIX ?? defaultKeyPrefix,
      retain,
      ...(config.sinkEnvironment.SEQGUARD_REDIS_WAIT_REPLICAS !== undefined
        ? { waitReplicas: Number(config.sinkEnvironment.SEQGUARD_REDIS_WAIT_REPLICAS) }
        : {}),
    });
    if (retain) Aspects.of(this).add(new RetainData());
  }

  /**
   * The region's zones as Fn::GetAZs tokens: `cdk synth` then needs no availability-zone lookup
   * (and so no AWS credentials) even when account and region are concrete.
   */
  override get availabilityZones(): string[] {
    return this.zones ?? super.availabilityZones;
  }
}
