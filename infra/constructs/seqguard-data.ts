/**
 * The data of a seqguard deployment: the network, the Kafka brokers with their topics, the Redis
 * cache and the key that encrypts them. The pipeline (seqguard-pipeline.ts) binds to it; the app
 * keeps it in a stack of its own (infra/stacks/data-stack.ts), so that a change to code or alarms
 * never touches the data.
 */
import { Aspects, CfnResource, Fn, type IAspect, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, type IConstruct } from 'constructs';
import { defaultKeyPrefix } from '../../core/index.ts';
import { cacheName, kafkaClusterName, type SeqguardConfig } from '../config.ts';
import { awsCustomResourceProviderId, KafkaCluster } from './kafka-cluster.ts';
import { checkMskZones } from './msk-zones.ts';
import { Network } from './network.ts';
import { RedisCache } from './redis-cache.ts';
import { functionNameOf } from './seqguard-function.ts';

/**
 * `retainData` keeps the data stack whole: a retained cluster or cache still uses its subnets,
 * security groups, subnet group, parameter group, users and user group, KMS key and secret, and
 * CloudFormation cannot delete a VPC, subnet or security group that a retained cluster's network
 * interfaces still use, so retaining only the clusters makes `cdk destroy` fail half way. Every
 * resource of the stack is kept, except the deploy-time lookup of the bootstrap brokers
 * (a custom resource and its provider function), which nothing kept depends on.
 */
export class RetainData implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof CfnResource)) return;
    const path = node.node.path;
    if (path.includes('/BootstrapBrokers/') || path.includes(`/${awsCustomResourceProviderId}/`))
      return;
    node.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}

/** The region's first `count` zones, as Fn::GetAZs tokens: no lookup (and no credentials) at synth. */
export const tokenZones = (count: number): string[] =>
  Array.from({ length: count }, (_, i) => Fn.select(i, Fn.getAzs()));

/** The zones the settings name (`availabilityZones`), else the region's first `azCount`. */
export const zonesOf = (config: SeqguardConfig): string[] =>
  config.availabilityZones ?? tokenZones(config.azCount);

export interface SeqguardDataProps {
  config: SeqguardConfig;
  /**
   * The zones to use; by default the setting `availabilityZones`, else the region's first
   * `azCount`, as Fn::GetAZs tokens.
   */
  availabilityZones?: string[];
}

export class SeqguardData extends Construct {
  readonly network: Network;
  readonly kafka: KafkaCluster;
  readonly redis: RedisCache;
  readonly key: kms.Key;
  /** The zones used: names, or Fn::GetAZs tokens (no lookup at synth either way). */
  readonly zones: string[];

  constructor(scope: Construct, id: string, props: SeqguardDataProps) {
    super(scope, id);
    const { config } = props;
    this.zones = props.availabilityZones ?? zonesOf(config);
    if (config.kafka.mode === 'provisioned') checkMskZones(this, this.zones, Stack.of(this).region);
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
    // The endpoints carry these calls only. The function name is fixed (`<prefix>-apply-events`),
    // so this stack can name the trigger's function without depending on the pipeline's.
    this.network.allowOnly({
      secretArn: this.redis.secret.secretArn,
      invokedFunctionNames: [functionNameOf(config.prefix, 'apply-events')],
    });
    if (retain) Aspects.of(this).add(new RetainData());
  }
}
