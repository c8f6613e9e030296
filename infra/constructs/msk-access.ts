/**
 * What a function needs to use an MSK cluster with IAM access control, whoever created the
 * cluster: the Kafka trigger (event source mapping) of apply-events, the reader access of
 * check-drift and replay, and the `kafka-cluster:*` permissions of both, scoped to the cluster's
 * topic and group ARNs (https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html).
 * The data stack's cluster (`KafkaCluster`) and a cluster the user brings
 * (`ExistingClusters`) each hand one of these to the pipeline.
 */
import { Duration, Fn, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IDependable } from 'constructs';
import { triggerGroups } from '../../core/index.ts';
import { acknowledge } from '../nag.ts';
import type { SeqguardFunction } from './seqguard-function.ts';

/** The construct id of a topic's trigger (topic names hold no `/`, which ids cannot). */
export const triggerId = (topic: string) => `KafkaTrigger-${topic}`;

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

/** Consumer groups of the record reader (check-drift, replay): one random id per read. */
export const readerGroupPattern = 'seqguard-reader-*';

/**
 * MSK's IAM listener (SASL/OAUTHBEARER over TLS) for clients inside AWS (MSK developer guide,
 * "Port information", https://docs.aws.amazon.com/msk/latest/developerguide/port-info.html).
 */
export const mskIamPort = 9098;

/** `arn:<partition>:kafka:<region>:<account>:cluster/<name>/<uuid>`, and its parts. */
export const mskClusterArnPattern =
  /^arn:(aws[a-z-]*):kafka:([a-z0-9-]+):(\d{12}):cluster\/([A-Za-z0-9-]{1,64})\/([A-Za-z0-9-]+)$/;

export interface MskAccessProps {
  /** A literal ARN (a brought cluster) or a token (the data stack's cluster). */
  clusterArn: string;
  clusterName: string;
  /** `host:9098,…`: the IAM bootstrap brokers. */
  bootstrapBrokers: string;
  /** The brokers' side of the network: the reading functions are let in on 9098. */
  brokers: ec2.IConnectable;
  /**
   * The cluster's security groups and client subnets: Lambda puts the trigger's network
   * interfaces there, not in the function's (Lambda developer guide, "Creating a Lambda event
   * source mapping for an Amazon MSK event source",
   * https://docs.aws.amazon.com/lambda/latest/dg/msk-esm-create.html).
   */
  pollerSecurityGroups: ec2.ISecurityGroup[];
  pollerSubnetIds?: string[];
  /** What the mappings must wait for (the topics, when the deployment creates them). */
  topicResources?: IDependable[];
}

export class MskAccess {
  readonly clusterArn: string;
  readonly clusterName: string;
  readonly bootstrapBrokers: string;
  private readonly props: MskAccessProps;

  constructor(props: MskAccessProps) {
    this.props = props;
    this.clusterArn = props.clusterArn;
    this.clusterName = props.clusterName;
    this.bootstrapBrokers = props.bootstrapBrokers;
  }

  /**
   * `<resource>/<cluster name>/<cluster uuid>/<name>`: MSK's topic and group ARN format (MSK
   * developer guide, "Semantics of IAM authorization policy actions and resources").
   */
  private arnOf(scope: Stack, resource: 'topic' | 'group', name: string): string {
    if (!Token.isUnresolved(this.clusterArn)) {
      const [, partition, region, account, clusterName, uuid] =
        mskClusterArnPattern.exec(this.clusterArn) ?? [];
      if (!uuid) throw new Error(`not an MSK cluster ARN: ${this.clusterArn}`);
      return `arn:${partition}:kafka:${region}:${account}:${resource}/${clusterName}/${uuid}/${name}`;
    }
    // cluster/<name>/<uuid> → <resource>/<name>/<uuid>/<topic or group>
    const uuid = Fn.select(2, Fn.split('/', this.clusterArn));
    return scope.formatArn({
      service: 'kafka',
      resource,
      resourceName: Fn.join('/', [this.clusterName, uuid, name]),
    });
  }

  topicArn(scope: Stack, topic: string): string {
    return this.arnOf(scope, 'topic', topic);
  }

  groupArn(scope: Stack, group: string): string {
    return this.arnOf(scope, 'group', group);
  }

  /**
   * The `kafka-cluster:*` and `kafka:*` permissions of a function, scoped to this cluster and
   * the named topics and groups. CDK grants none of them by itself.
   */
  grant(
    fn: SeqguardFunction,
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
    const stack = Stack.of(fn);
    const topicArn = (t: string) => this.topicArn(stack, t);
    const groupArn = (g: string) => this.groupArn(stack, g);
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
          resources: [...new Set(topics)].map(topicArn),
        }),
      );
    }
    if (access.readTopics?.length) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:ReadData'],
          resources: access.readTopics.map(topicArn),
        }),
      );
    }
    if (access.writeTopics?.length) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:WriteData'],
          resources: access.writeTopics.map(topicArn),
        }),
      );
    }
    const groups = [...(access.alterGroups ?? []), ...(access.describeGroups ?? [])];
    if (groups.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:DescribeGroup'],
          resources: [...new Set(groups)].map(groupArn),
        }),
      );
    }
    if (access.alterGroups?.length) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:AlterGroup'],
          resources: access.alterGroups.map(groupArn),
        }),
      );
    }
    for (const statement of statements) fn.role.addToPolicy(statement);
  }

  /**
   * The Kafka trigger of a function: an event source mapping in provisioned mode that reports
   * partial batch failures, retries a bounded number of times, splits a failing batch, gives up
   * on records older than the maximum age, and then sends them to the dead-letter topic. Its
   * consumer group id is fixed, because check-drift compares that group's commits with Redis.
   * The mapping authenticates with the function's role, which gets exactly the cluster, topic
   * and group actions it needs, and network interfaces with the cluster's security groups.
   * It invokes `target`: the function, or an alias of it (the one with provisioned concurrency,
   * Pipeline.applyEventsAlias), whose versions run with the same role.
   */
  bindEventSource(
    fn: SeqguardFunction,
    options: EventSourceOptions,
    target: lambda.IFunction = fn.function,
  ): lambda.EventSourceMapping[] {
    const groups = triggerGroups(options.consumerGroupId, options.topics);
    this.grant(fn, {
      readTopics: options.topics,
      writeTopics: [options.deadLetterTopic],
      alterGroups: groups.map((g) => g.groupId),
      eventSourceMapping: true,
    });
    fn.allowNetworkInterfaces(this.props.pollerSecurityGroups, this.props.pollerSubnetIds);
    // One mapping per topic (a Kafka mapping takes one topic), each with a group of its own:
    // core/kafka/consumer-groups.ts. Each is named by its topic, never by its position: with
    // positions, removing the first topic would move the second topic's trigger onto the first
    // one's resource, changing its topic and group in place, which Lambda cannot do (a mapping's
    // consumer group id cannot be updated, kafka-consumer-group-id.html).
    return groups.map(({ topic, groupId }) => {
      const mapping = new lambda.EventSourceMapping(fn, triggerId(topic), {
        target,
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
      // An alias by its ARN (the Ref of AWS::Lambda::Alias), not the `<function>:<alias>` CDK
      // cuts out of it.
      if (target !== fn.function) {
        (mapping.node.defaultChild as lambda.CfnEventSourceMapping).functionName =
          target.functionArn;
      }
      // The topics and the role's permissions exist before the mapping starts polling.
      for (const resource of this.props.topicResources ?? []) mapping.node.addDependency(resource);
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
    this.grant(fn, {
      readTopics: options.topics,
      describeGroups: triggerGroups(options.consumerGroupId, options.topics).map((g) => g.groupId),
    });
    // The reader joins a consumer group with a random id per read (any `seqguard-reader-*` group
    // of this cluster). A brought cluster's ARN is a literal, so its uuid is in the ARN. The data
    // stack's cluster uuid is a deploy-time token, and is left open (`<name>/*/…`): cdk-nag v3
    // matches an acknowledgement by its exact finding id (NagPack.isAcknowledged compares
    // strings; v2's `appliesTo: [{ regex }]` is gone, see cdk-nag's MIGRATION.md), and the id of
    // an ARN built from that token would be the rendered Fn::Select/Fn::ImportValue of the other
    // stack, known only after synthesis.
    const stack = Stack.of(fn);
    const readerGroups = Token.isUnresolved(this.clusterArn)
      ? stack.formatArn({
          service: 'kafka',
          resource: 'group',
          resourceName: `${this.clusterName}/*/${readerGroupPattern}`,
        })
      : this.groupArn(stack, readerGroupPattern);
    fn.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: [readerGroups],
      }),
    );
    acknowledge(
      fn.role,
      `The record reader (core/kafka/read-records.ts) consumes with a random group id per read (${readerGroupPattern}) and commits nothing; it never joins the event source mapping's group.`,
      `AwsSolutions-IAM5[Resource::${readerGroups}]`,
    );
    fn.connections.allowTo(this.props.brokers, ec2.Port.tcp(mskIamPort), 'Kafka (IAM/TLS)');
  }
}
