/**
 * A VPC, an MSK cluster and an ElastiCache cache the user already runs (docs/deploying.md, "Bring your own
 * clusters"), imported from their attributes in CDK context: no lookup, so `cdk synth` stays
 * offline, and nothing of theirs is created, changed or deleted, except the ingress rules that
 * let the functions' own security groups into the cluster's and the cache's. Hands the pipeline
 * the same bindings as the data stack (msk-access.ts, redis-client.ts).
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { ExistingClustersContext } from '../config.ts';
import { MskAccess, mskClusterArnPattern, mskIamPort } from './msk-access.ts';
import { bindRedisClient } from './redis-client.ts';
import type { SeqguardFunction } from './seqguard-function.ts';

export class ExistingClusters extends Construct {
  readonly vpc: ec2.IVpc;
  readonly kafka: MskAccess;
  private readonly redis: ExistingClustersContext['redis'];
  private readonly cache: ec2.IConnectable;
  private readonly redisPort: ec2.Port;

  constructor(scope: Construct, id: string, existing: ExistingClustersContext) {
    super(scope, id);
    // The subnets are listed as "isolated" only so that CDK's subnet selection (the functions',
    // and their network interface permissions) picks exactly these; whether they reach the
    // internet is up to their route tables, which this stack does not touch.
    this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: existing.vpcId,
      availabilityZones: existing.availabilityZones,
      isolatedSubnetIds: existing.subnetIds,
    });

    const securityGroup = (name: string, groupId: string) =>
      // mutable: the stack adds ingress rules (AWS::EC2::SecurityGroupIngress, deleted with the
      // stack) for the functions' security groups; the group itself stays the user's.
      ec2.SecurityGroup.fromSecurityGroupId(this, name, groupId, {
        mutable: true,
        allowAllOutbound: true,
      });
    const kafkaGroups = existing.kafka.securityGroupIds.map((groupId, i) =>
      securityGroup(`KafkaSecurityGroup${i}`, groupId),
    );
    const [, , , , clusterName] = mskClusterArnPattern.exec(existing.kafka.clusterArn) ?? [];
    this.kafka = new MskAccess({
      clusterArn: existing.kafka.clusterArn,
      clusterName: clusterName as string,
      bootstrapBrokers: existing.kafka.bootstrapBrokers,
      brokers: new ec2.Connections({
        securityGroups: kafkaGroups.slice(0, 1),
        defaultPort: ec2.Port.tcp(mskIamPort),
      }),
      pollerSecurityGroups: kafkaGroups,
      pollerSubnetIds: existing.kafka.subnetIds ?? existing.subnetIds,
    });

    this.redis = existing.redis;
    this.redisPort = ec2.Port.tcp(Number(new URL(existing.redis.url).port));
    this.cache = new ec2.Connections({
      securityGroups: [securityGroup('RedisSecurityGroup', existing.redis.securityGroupId)],
      defaultPort: this.redisPort,
    });
  }

  bindRedisClient(fn: SeqguardFunction): void {
    bindRedisClient(fn, {
      url: this.redis.url,
      cluster: this.redis.cluster,
      secretArn: this.redis.authSecretArn,
      secretKeyArn: this.redis.authSecretKeyArn,
      cache: this.cache,
      port: this.redisPort,
      secretsManager: 'vpcRoute',
    });
  }
}
