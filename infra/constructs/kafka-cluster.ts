/**
 * Amazon MSK with IAM authentication and TLS only: provisioned brokers (the default) or MSK
 * Serverless. Clients authorise per cluster, topic and group with `kafka-cluster:*` actions
 * (https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html), which the bind…()
 * helpers of `access` (msk-access.ts) grant on exactly the resources each function uses.
 */
import { createHash } from 'node:crypto';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';
import { MskAccess, mskIamPort } from './msk-access.ts';

/** The id aws-cdk-lib gives the singleton function behind every AwsCustomResource of a stack. */
export const awsCustomResourceProviderId = 'AWS679f53fac002430cb0da5b7982bd2287';

/**
 * The create-only properties of AWS::MSK::Configuration besides its name (CloudFormation resource
 * provider schema, `createOnlyProperties`: Name and KafkaVersionsList). A change to one replaces
 * the configuration, and CloudFormation creates the replacement before it deletes the old one, so
 * the two must not share a name.
 */
export interface ConfigurationCreateOnly {
  kafkaVersionsList: string[];
}

/**
 * `<cluster>-config-<hash>`: the name changes exactly when a create-only property does, so a
 * replacement (a `kafkaVersion` change) gets a new name and an update (server properties, a new
 * revision) keeps it. MSK configuration names match `^[0-9A-Za-z][0-9A-Za-z-]{0,}$` (MSK
 * developer guide, "Create a configuration",
 * https://docs.aws.amazon.com/msk/latest/developerguide/msk-configuration-operations-create.html);
 * the cluster name starts with a letter and the hash is hex.
 */
export function mskConfigurationName(clusterName: string, createOnly: ConfigurationCreateOnly) {
  const hash = createHash('sha256').update(JSON.stringify(createOnly)).digest('hex').slice(0, 8);
  return `${clusterName}-config-${hash}`;
}

export interface KafkaClusterProps {
  clusterName: string;
  mode: 'provisioned' | 'serverless';
  vpc: ec2.IVpc;
  /** Interface endpoints the event source mapping's pollers call (Lambda, STS). */
  pollerEndpoints: ec2.IConnectable[];
  kafkaVersion: string;
  brokerInstanceType: string;
  brokersPerAz: number;
  volumeGiB: number;
  /** Encrypts the broker volumes (provisioned; Serverless always encrypts with its own key). */
  key: kms.IKey;
  logRetentionDays: number;
  retain: boolean;
  /** Topics to create, with their partition count. */
  topics: { name: string; partitions: number }[];
}

export class KafkaCluster extends Construct implements ec2.IConnectable {
  readonly clusterArn: string;
  readonly clusterName: string;
  readonly securityGroup: ec2.SecurityGroup;
  readonly connections: ec2.Connections;
  /** `host:9098,…`: the IAM bootstrap brokers, resolved at deploy time. */
  readonly bootstrapBrokers: string;
  readonly mode: 'provisioned' | 'serverless';
  /** The topic resources (provisioned: AWS::MSK::Topic); empty for Serverless. */
  readonly topicResources: Construct[] = [];
  /** The trigger and reader bindings of the functions, and their permissions. */
  readonly access: MskAccess;

  constructor(scope: Construct, id: string, props: KafkaClusterProps) {
    super(scope, id);
    this.mode = props.mode;
    this.clusterName = props.clusterName;
    const subnets = props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
    this.securityGroup = this.brokerSecurityGroup(props);
    this.connections = new ec2.Connections({
      securityGroups: [this.securityGroup],
      defaultPort: ec2.Port.tcp(mskIamPort),
    });
    this.openPollerPaths(props.pollerEndpoints);
    this.clusterArn =
      props.mode === 'provisioned'
        ? this.provisionedCluster(props, subnets)
        : this.serverlessCluster(props, subnets);
    this.bootstrapBrokers = this.lookUpBootstrapBrokers(props.clusterName);
    this.access = new MskAccess({
      clusterArn: this.clusterArn,
      clusterName: this.clusterName,
      bootstrapBrokers: this.bootstrapBrokers,
      brokers: this,
      pollerSecurityGroups: [this.securityGroup],
      topicResources: this.topicResources,
    });
  }

  private brokerSecurityGroup(props: KafkaClusterProps): ec2.SecurityGroup {
    return new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `${props.clusterName}: brokers, and the event source mapping pollers`,
      allowAllOutbound: false,
    });
  }

  /**
   * Lambda's pollers run with the cluster's security group: they reach the brokers through its
   * self-reference, and Lambda and STS through the endpoints.
   */
  private openPollerPaths(pollerEndpoints: ec2.IConnectable[]): void {
    this.securityGroup.addIngressRule(
      this.securityGroup,
      ec2.Port.tcp(mskIamPort),
      'event source mapping pollers to brokers (IAM/TLS)',
    );
    this.securityGroup.addEgressRule(
      this.securityGroup,
      ec2.Port.tcp(mskIamPort),
      'event source mapping pollers to brokers (IAM/TLS)',
    );
    for (const endpoint of pollerEndpoints) {
      endpoint.connections.allowFrom(this.securityGroup, ec2.Port.tcp(443), 'ESM pollers (HTTPS)');
    }
  }

  /** Provisioned brokers, their configuration and logs, and the topics; returns the cluster ARN. */
  private provisionedCluster(props: KafkaClusterProps, subnets: ec2.SelectedSubnets): string {
    const removal = props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: removal,
    });
    const brokers = subnets.subnetIds.length * props.brokersPerAz;
    const replication = Math.min(3, brokers);
    // The configuration lists the cluster's version: a version change replaces it (a new name),
    // and the cluster's in-place upgrade takes the new configuration as the one to apply on the
    // new version (MSK API, UpdateClusterKafkaVersion, ConfigurationInfo).
    const createOnly: ConfigurationCreateOnly = { kafkaVersionsList: [props.kafkaVersion] };
    const configuration = new msk.CfnConfiguration(this, 'Configuration', {
      name: mskConfigurationName(props.clusterName, createOnly),
      ...createOnly,
      serverProperties: [
        'auto.create.topics.enable=false',
        `default.replication.factor=${replication}`,
        `min.insync.replicas=${Math.max(1, replication - 1)}`,
        'unclean.leader.election.enable=false',
      ].join('\n'),
    });
    const cluster = new msk.CfnCluster(this, 'Cluster', {
      clusterName: props.clusterName,
      kafkaVersion: props.kafkaVersion,
      numberOfBrokerNodes: brokers,
      brokerNodeGroupInfo: {
        instanceType: props.brokerInstanceType,
        clientSubnets: subnets.subnetIds,
        securityGroups: [this.securityGroup.securityGroupId],
        storageInfo: { ebsStorageInfo: { volumeSize: props.volumeGiB } },
        connectivityInfo: { publicAccess: { type: 'DISABLED' } },
      },
      clientAuthentication: {
        sasl: { iam: { enabled: true } },
        unauthenticated: { enabled: false },
      },
      encryptionInfo: {
        encryptionAtRest: { dataVolumeKmsKeyId: props.key.keyArn },
        encryptionInTransit: { clientBroker: 'TLS', inCluster: true },
      },
      configurationInfo: {
        arn: configuration.attrArn,
        revision: configuration.attrLatestRevisionRevision,
      },
      loggingInfo: {
        brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } },
      },
      enhancedMonitoring: 'DEFAULT',
    });
    cluster.applyRemovalPolicy(removal);
    for (const topic of props.topics) {
      const resource = new msk.CfnTopic(this, `Topic-${topic.name}`, {
        clusterArn: cluster.attrArn,
        topicName: topic.name,
        partitionCount: topic.partitions,
        replicationFactor: replication,
      });
      resource.applyRemovalPolicy(removal);
      this.topicResources.push(resource);
    }
    return cluster.attrArn;
  }

  /** MSK Serverless (its topics are created by clients); returns the cluster ARN. */
  private serverlessCluster(props: KafkaClusterProps, subnets: ec2.SelectedSubnets): string {
    const cluster = new msk.CfnServerlessCluster(this, 'Cluster', {
      clusterName: props.clusterName,
      clientAuthentication: { sasl: { iam: { enabled: true } } },
      vpcConfigs: [
        { subnetIds: subnets.subnetIds, securityGroups: [this.securityGroup.securityGroupId] },
      ],
    });
    cluster.applyRemovalPolicy(props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);
    return cluster.attrArn;
  }

  /**
   * The bootstrap brokers are no attribute of AWS::MSK::Cluster: one GetBootstrapBrokers call at
   * deploy time, so the functions need neither the kafka API nor its endpoint at run time.
   */
  private lookUpBootstrapBrokers(clusterName: string): string {
    const lookup = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      onUpdate: {
        service: 'Kafka',
        action: 'getBootstrapBrokers',
        parameters: { ClusterArn: this.clusterArn },
        physicalResourceId: cr.PhysicalResourceId.of(`${clusterName}-bootstrap-brokers`),
        outputPaths: ['BootstrapBrokerStringSaslIam'],
      },
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.clusterArn] }),
      installLatestAwsSdk: false,
    });
    const bootstrapBrokers = lookup.getResponseField('BootstrapBrokerStringSaslIam');
    // The provider function is a stack-wide singleton of aws-cdk-lib.
    const provider = Stack.of(this).node.tryFindChild(awsCustomResourceProviderId);
    if (provider) {
      acknowledge(
        provider,
        "CDK's AwsCustomResource provider (one call of kafka:GetBootstrapBrokers on this cluster, at deploy time) writes its own logs with AWSLambdaBasicExecutionRole; it runs outside the VPC and reads no data.",
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      );
    }
    return bootstrapBrokers;
  }
}
