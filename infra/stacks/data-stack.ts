/**
 * The stateful stack: the data of a deployment (SeqguardData: the network, the Kafka brokers with
 * their topics, the Redis cache and the key that encrypts them). Kept apart from the functions so
 * a change to code or alarms never touches the data, and protected from deletion unless
 * `retainData` is off.
 */
import { Aspects, Stack, type StackProps } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { SeqguardConfig } from '../config.ts';
import type { KafkaCluster } from '../constructs/kafka-cluster.ts';
import type { Network } from '../constructs/network.ts';
import type { RedisCache } from '../constructs/redis-cache.ts';
import { RetainData, SeqguardData, zonesOf } from '../constructs/seqguard-data.ts';

export interface DataStackProps extends StackProps {
  config: SeqguardConfig;
}

export class DataStack extends Stack {
  readonly data: SeqguardData;
  readonly network: Network;
  readonly kafka: KafkaCluster;
  readonly redis: RedisCache;
  readonly key: kms.Key;
  private readonly zones: string[];

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { terminationProtection: props.config.retainData, ...props });
    // "Default": the construct adds nothing to its resources' logical ids, which stay those of
    // the stack's direct children (a changed id would replace the brokers and the cache).
    this.zones = zonesOf(props.config);
    this.data = new SeqguardData(this, 'Default', {
      config: props.config,
      availabilityZones: this.zones,
    });
    ({ network: this.network, kafka: this.kafka, redis: this.redis, key: this.key } = this.data);
    // The whole stack is kept, the stack-level singletons the data uses included (the VPC's
    // default security group restriction).
    if (props.config.retainData) Aspects.of(this).add(new RetainData());
  }

  /**
   * The zones of the settings, or the region's as Fn::GetAZs tokens: `cdk synth` then needs no
   * availability-zone lookup (and so no AWS credentials) even when account and region are
   * concrete.
   */
  override get availabilityZones(): string[] {
    return this.zones ?? super.availabilityZones;
  }
}
