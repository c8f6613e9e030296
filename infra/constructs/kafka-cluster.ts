/**
 * Amazon MSK with IAM authentication and TLS only: provisioned brokers (the default) or MSK
 * Serverless. Clients authorise per cluster, topic and group with `kafka-cluster:*` actions
 * (https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html), which the bind…()
 * helpers grant on exactly the resources each function uses.
 */
import { Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { triggerGroups } from '../../functions/shared/kafka/consumer-groups.ts';
import { acknowledge } from '../nag.ts';
import type { SeqguardFunction } from './seqguard-function.ts';

export interface EventSourceOptions {
  topics: string[];
  consumerGroupId: string;
  deadLetterTopic: string;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  retryAttempts: number;
  maxRecordAgeSeconds: number;
  minimumPollers: number;
  maximumPollers: number;
  startingPosition: 'TRIM_HORIZON' | 'LATEST';
}

/** The id aws-cdk-lib gives the singleton function behind every AwsCustomResource of a stack. */
export const awsCustomResourceProviderId = 'AWS679f53fac002430cb0da5b7982bd2287';

/** Consumer groups of the record reader (check-drift, replay): one random id per read. */
export const readerGroupPattern = 'seqguard-reader-*';

/** MSK's IAM listener (SASL/OAUTHBEARER over TLS). */
export const mskIamPort = 9098;

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

  constructor(scope: Construct, id: string, props: KafkaClusterProps) {
    super(scope, id);
    this.mode = props.mode;
    this.clusterName = props.clusterName;
    const subnets = props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `${props.clusterName}: brokers, and the event source mapping pollers`,
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({
      securityGroups: [this.securityGroup],
      defaultPort: ec2.Port.tcp(mskIamPort),
    });
    // Lambda's pollers run with the cluster's security group: they reach the brokers through
    // this self-reference, and Lambda and STS through the endpoints.
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
    for (const endpoint of props.pollerEndpoints) {
      endpoint.connections.allowFrom(this.securityGroup, ec2.Port.tcp(443), 'ESM pollers (HTTPS)');
    }

    if (props.mode === 'provisioned') {
      const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', {
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
      const brokers = subnets.subnetIds.length * props.brokersPerAz;
      const replication = Math.min(3, brokers);
      const configuration = new msk.CfnConfiguration(this, 'Configuration', {
        name: `${props.clusterName}-config`,
        kafkaVersionsList: [props.kafkaVersion],
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
      cluster.applyRemovalPolicy(props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);
      this.clusterArn = cluster.attrArn;
      for (const topic of props.topics) {
        const resource = new msk.CfnTopic(this, `Topic-${topic.name}`, {
          clusterArn: this.clusterArn,
          topicName: topic.name,
          partitionCount: topic.partitions,
          replicationFactor: replication,
        });
        resource.applyRemovalPolicy(props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);
        this.topicResources.push(resource);
      }
    } else {
      const cluster = new msk.CfnServerlessCluster(this, 'Cluster', {
        clusterName: props.clusterName,
        clientAuthentication: { sasl: { iam: { enabled: true } } },
        vpcConfigs: [
          { subnetIds: subnets.subnetIds, securityGroups: [this.securityGroup.securityGroupId] },
        ],
      });
      cluster.applyRemovalPolicy(props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);
      this.clusterArn = cluster.attrArn;
    }

    // The bootstrap brokers are no attribute of AWS::MSK::Cluster: one GetBootstrapBrokers call
    // at deploy time, so the functions need neither the kafka API nor its endpoint at run time.
    const lookup = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      onUpdate: {
        service: 'Kafka',
        action: 'getBootstrapBrokers',
        parameters: { ClusterArn: this.clusterArn },
        physicalResourceId: cr.PhysicalResourceId.of(`${props.clusterName}-bootstrap-brokers`),
        outputPaths: ['BootstrapBrokerStringSaslIam'],
      },
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.clusterArn] }),
      installLatestAwsSdk: false,
    });
    this.bootstrapBrokers = lookup.getResponseField('BootstrapBrokerStringSaslIam');
    // The provider function is a stack-wide singleton of aws-cdk-lib.
    const provider = Stack.of(this).node.tryFindChild(awsCustomResourceProviderId);
    if (provider) {
      acknowledge(
        provider,
        "CDK's AwsCustomResource provider (one call of kafka:GetBootstrapBrokers on this cluster, at deploy time) writes its own logs with AWSLambdaBasicExecutionRole; it runs outside the VPC and reads no data.",
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      );
    }
  }

  private arnOf(resource: 'topic' | 'group', name: string): string {
    // cluster/<name>/<uuid> → <resource>/<name>/<uuid>/<topic or group>
    const uuid = Fn.select(2, Fn.split('/', this.clusterArn));
    return Stack.of(this).formatArn({
      service: 'kafka',
      resource,
      resourceName: Fn.join('/', [this.clusterName, uuid, name]),
    });
  }

  topicArn(topic: string): string {
    return this.arnOf('topic', topic);
  }

  groupArn(group: string): string {
    return this.arnOf('group', group);
  }

  /**
   * The `kafka-cluster:*` and `kafka:*` permissions of a principal, scoped to this cluster and
   * the named topics and groups. CDK grants none of them by itself.
   */
  grant(
    principal: iam.IGrantable,
    access: {
      /** Topics read (DescribeTopic, ReadData). */
      readTopics?: string[];
      /** Topics written (DescribeTopic, WriteData). */
      writeTopics?: string[];
      /** Consumer groups joined and committed (DescribeGroup, AlterGroup). */
      alterGroups?: string[];
      /** Consumer groups only looked at (DescribeGroup). */
      describeGroups?: string[];
      /** The event source mapping also describes the cluster and its brokers. */
      eventSourceMapping?: boolean;
    },
  ): void {
    const statements: iam.PolicyStatement[] = [
      new iam.PolicyStatement({
        actions: ['kafka-cluster:Connect'],
        resources: [this.clusterArn],
      }),
    ];
    if (access.eventSourceMapping) {
      statements.push(
        // Lambda developer guide, "Configuring Lambda execution role permissions"
        // (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html).
        new iam.PolicyStatement({
          actions: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
          resources: [this.clusterArn],
        }),
        // The mapping's pollers read the cluster's dynamic configuration (Kafka's
        // DescribeConfigs on the cluster): Lambda developer guide, "Configuring Amazon MSK event
        // sources for Lambda", IAM role-based authentication
        // (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html).
        new iam.PolicyStatement({
          actions: ['kafka-cluster:DescribeClusterDynamicConfiguration'],
          resources: [this.clusterArn],
        }),
      );
    }
    const topics = [...(access.readTopics ?? []), ...(access.writeTopics ?? [])];
    if (topics.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:DescribeTopic'],
          resources: [...new Set(topics)].map((t) => this.topicArn(t)),
        }),
      );
    }
    if (access.readTopics?.length) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:ReadData'],
          resources: access.readTopics.map((t) => this.topicArn(t)),
        }),
      );
    }
    if (access.writeTopics?.length) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:WriteData'],
          resources: access.writeTopics.map((t) => this.topicArn(t)),
        }),
      );
    }
    const groups = [...(access.alterGroups ?? []), ...(access.describeGroups ?? [])];
    if (groups.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:DescribeGroup'],
          resources: [...new Set(groups)].map((g) => this.groupArn(g)),
        }),
      );
    }
    if (access.alterGroups?.length) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:AlterGroup'],
          resources: access.alterGroups.map((g) => this.groupArn(g)),
        }),
      );
    }
    for (const statement of statements) principal.grantPrincipal.addToPrincipalPolicy(statement);
  }

  /**
   * The Kafka trigger of a function: an event source mapping in provisioned mode that reports
   * partial batch failures, retries a bounded number of times, splits a failing batch, gives up
   * on records older than the maximum age, and then sends them to the dead-letter topic. Its
   * consumer group id is fixed, because check-drift compares that group's commits with Redis.
   * The mapping authenticates with the function's role, which gets exactly the cluster, topic
   * and group actions it needs, and network interfaces in the cluster's security group.
   */
  bindEventSource(fn: SeqguardFunction, options: EventSourceOptions): lambda.EventSourceMapping[] {
    const groups = triggerGroups(options.consumerGroupId, options.topics);
    this.grant(fn.role, {
      readTopics: options.topics,
      writeTopics: [options.deadLetterTopic],
      alterGroups: groups.map((g) => g.groupId),
      eventSourceMapping: true,
    });
    fn.allowNetworkInterfaces([this.securityGroup]);
    // One mapping per topic (a Kafka mapping takes one topic), each with a group of its own:
    // functions/shared/kafka/consumer-groups.ts.
    return groups.map(({ topic, groupId }, i) => {
      const mapping = new lambda.EventSourceMapping(fn, `KafkaTrigger${i}`, {
        target: fn.function,
        eventSourceArn: this.clusterArn,
        kafkaTopic: topic,
        kafkaConsumerGroupId: groupId,
        startingPosition: lambda.StartingPosition[options.startingPosition],
        batchSize: options.batchSize,
        maxBatchingWindow: Duration.seconds(options.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
        retryAttempts: options.retryAttempts,
        maxRecordAge: Duration.seconds(options.maxRecordAgeSeconds),
        bisectBatchOnError: true,
        onFailure: new KafkaDlq(options.deadLetterTopic),
        provisionedPollerConfig: {
          minimumPollers: options.minimumPollers,
          maximumPollers: options.maximumPollers,
        },
        // The mapping's own metrics: offset lag, polled and filtered events, errors
        // (Lambda developer guide, "Event source mapping metrics").
        metricsConfig: {
          metrics: [
            lambda.MetricType.EVENT_COUNT,
            lambda.MetricType.ERROR_COUNT,
            lambda.MetricType.KAFKA_METRICS,
          ],
        },
      });
      // The topics and the role's permissions exist before the mapping starts polling.
      for (const resource of this.topicResources) mapping.node.addDependency(resource);
      mapping.node.addDependency(fn.role);
      return mapping;
    });
  }

  /**
   * Kafka access of check-drift and replay: where the brokers are (IAM listener), the topics to
   * read, the event source mapping's group to compare, and the permissions and network path
   * for exactly that.
   */
  bindReader(fn: SeqguardFunction, options: { topics: string[]; consumerGroupId: string }): void {
    fn.addEnvironment('SEQGUARD_KAFKA_BOOTSTRAP', this.bootstrapBrokers);
    // The ARN turns IAM authentication on (in its region); the brokers are not looked up again.
    fn.addEnvironment('SEQGUARD_MSK_CLUSTER_ARN', this.clusterArn);
    fn.addEnvironment('SEQGUARD_TOPICS', options.topics.join(','));
    fn.addEnvironment('SEQGUARD_CONSUMER_GROUP', options.consumerGroupId);
    this.grant(fn.role, {
      readTopics: options.topics,
      describeGroups: triggerGroups(options.consumerGroupId, options.topics).map((g) => g.groupId),
    });
    // The reader joins a consumer group with a random id per read: any such group of this
    // cluster name (the cluster's uuid, a deploy-time value, is left open so that the cdk-nag
    // finding below is a fixed string).
    const readerGroups = Stack.of(this).formatArn({
      service: 'kafka',
      resource: 'group',
      resourceName: `${this.clusterName}/*/${readerGroupPattern}`,
    });
    fn.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: [readerGroups],
      }),
    );
    acknowledge(
      fn.role,
      `The record reader (functions/shared/kafka/read-records.ts) consumes with a random group id per read (${readerGroupPattern}) and commits nothing; it never joins the event source mapping's group.`,
      `AwsSolutions-IAM5[Resource::${readerGroups}]`,
    );
    fn.connections.allowTo(this, this.connections.defaultPort as ec2.Port, 'Kafka (IAM/TLS)');
  }
}
