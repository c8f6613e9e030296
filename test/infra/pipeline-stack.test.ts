/**
 * The functions, their trigger and schedule, their IAM and network access, and the alarms, as
 * `cdk synth` renders them with cdk.json's settings (one synth, no bundling).
 */
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type AlarmName, alarmMetrics, defaultThresholds } from '../../core/config/thresholds.ts';
import { pagingNoneOutput } from '../../tools/doctor/subscriptions.ts';
import { synthApp, testEnv } from '../helpers/cdk.ts';
import { TemplateText } from '../helpers/template.ts';

function synthAws(context: Record<string, unknown> = {}) {
  const { stacks } = synthApp(context);
  if (stacks.stage !== 'aws') throw new Error('expected the AWS stage');
  const data = Template.fromStack(stacks.data);
  const pipeline = Template.fromStack(stacks.pipeline);
  return { stacks, data, pipeline, text: new TemplateText([data, pipeline]) };
}

const { stacks, pipeline, text } = synthAws();
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stacks.stage === 'aws' ? stacks.pipeline.getLogicalId(construct.node.defaultChild as never) : '';
const fns = stacks.stage === 'aws' ? stacks.pipeline.pipeline : undefined;
const applyEventsId = logicalId(fns?.applyEvents.function as never);
const checkDriftId = logicalId(fns?.checkDrift.function as never);

const arn = (service: string, resource: string) =>
  `arn:aws:${service}:${testEnv.region}:${testEnv.account}:${resource}`;
const clusterUuid = "{{KafkaCluster.Arn}.split('/')[2]}";
const topic = (name: string) => arn('kafka', `topic/seqguard-kafka/${clusterUuid}/${name}`);
const group = (name: string) => arn('kafka', `group/seqguard-kafka/${clusterUuid}/${name}`);

/** What every function in the VPC may do: its own logs, its network interfaces, the secret. */
const common = (name: 'ApplyEvents' | 'CheckDrift' | 'Replay') => [
  `logs:CreateLogStream {Pipeline${name}LogGroup.Arn}`,
  `logs:PutLogEvents {Pipeline${name}LogGroup.Arn}`,
  `ec2:CreateNetworkInterface ${arn('ec2', 'network-interface/*')}`,
  `ec2:CreateNetworkInterface ${arn('ec2', `security-group/{Pipeline${name}SecurityGroup.GroupId}`)}`,
  ...[1, 2, 3].map(
    (i) => `ec2:CreateNetworkInterface ${arn('ec2', `subnet/{NetworkVpcprivateSubnet${i}Subnet}`)}`,
  ),
  `ec2:AssignPrivateIpAddresses ${arn('ec2', 'network-interface/*')}`,
  `ec2:DeleteNetworkInterface ${arn('ec2', 'network-interface/*')}`,
  `ec2:UnassignPrivateIpAddresses ${arn('ec2', 'network-interface/*')}`,
  'ec2:DescribeNetworkInterfaces *',
  'ec2:DescribeSecurityGroups *',
  'ec2:DescribeSubnets *',
  'ec2:DescribeVpcs *',
  'secretsmanager:DescribeSecret {RedisAuthSecret}',
  'secretsmanager:GetSecretValue {RedisAuthSecret}',
  `kms:Decrypt {DataKey.Arn} [{"StringEquals":{"kms:ViaService":"secretsmanager.${testEnv.region}.amazonaws.com"}}]`,
  'kafka-cluster:Connect {KafkaCluster.Arn}',
];

describe('apply-events event source mapping', () => {
  it('is an MSK trigger in provisioned mode with partial batch responses, bounded retries, bisection and a Kafka dead-letter topic', () => {
    pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: applyEventsId },
      EventSourceArn: Match.objectLike({
        'Fn::ImportValue': Match.stringLikeRegexp('KafkaCluster'),
      }),
      Topics: ['seqguard.events'],
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 3 },
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86_400,
      BisectBatchOnFunctionError: true,
      DestinationConfig: { OnFailure: { Destination: 'kafka://seqguard.events.failed' } },
      AmazonManagedKafkaEventSourceConfig: {
        ConsumerGroupId: 'seqguard-apply-events.seqguard.events',
      },
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 1,
    });
    expect(
      text.render(
        pipeline.toJSON().Resources[
          Object.keys(pipeline.findResources('AWS::Lambda::EventSourceMapping'))[0] as string
        ].Properties.EventSourceArn,
      ),
    ).toBe('{KafkaCluster.Arn}');
  });

  it('uses the consumer group id that check-drift compares', () => {
    pipeline.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'seqguard-check-drift',
      Environment: {
        Variables: Match.objectLike({
          SEQGUARD_CONSUMER_GROUP: 'seqguard-apply-events',
          SEQGUARD_TOPICS: 'seqguard.events',
        }),
      },
    });
  });

  it('takes batch size, window, retries, age, pollers and the group from the context', () => {
    const custom = synthAws({
      topics: ['payments', 'refunds'],
      consumerGroupId: 'bank-sink',
      deadLetterTopic: 'payments.dlt',
      eventSource: {
        batchSize: 100,
        maxBatchingWindowSeconds: 5,
        retryAttempts: 3,
        maxRecordAgeSeconds: 3600,
        minimumPollers: 2,
        maximumPollers: 8,
      },
    });
    for (const name of ['payments', 'refunds']) {
      custom.pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        Topics: [name],
        BatchSize: 100,
        MaximumBatchingWindowInSeconds: 5,
        MaximumRetryAttempts: 3,
        MaximumRecordAgeInSeconds: 3600,
        ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 8 },
        DestinationConfig: { OnFailure: { Destination: 'kafka://payments.dlt' } },
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: `bank-sink.${name}` },
      });
    }
    custom.pipeline.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'seqguard-check-drift',
      Environment: {
        Variables: Match.objectLike({
          SEQGUARD_CONSUMER_GROUP: 'bank-sink',
          SEQGUARD_TOPICS: 'payments,refunds',
        }),
      },
    });
  });
});

// Lambda developer guide, "Low latency processing for Kafka event sources"
// (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-low-latency.html): provisioned mode
// and MaximumBatchingWindowInSeconds 0 are required; the same minimum and maximum pollers turn
// off autoscaling, whose rebalances add latency.
describe('a second deploy: the triggers keep their identity', () => {
  /** Each mapping's logical id, topic and consumer group. */
  const triggers = (context: Record<string, unknown>) =>
    Object.entries(synthAws(context).pipeline.findResources('AWS::Lambda::EventSourceMapping')).map(
      ([id, r]) => ({
        id,
        topic: (r.Properties.Topics as string[])[0],
        group: r.Properties.AmazonManagedKafkaEventSourceConfig.ConsumerGroupId as string,
      }),
    );

  // Lambda developer guide, "Customizable consumer group ID"
  // (https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html): "After creating
  // a Kafka event source mapping with the consumer group ID specified, you cannot update this
  // value." A trigger whose group changed in place would fail the deploy.
  it('adding or removing a topic leaves every other trigger as it was', () => {
    const one = triggers({ topics: ['payments'] });
    const two = triggers({ topics: ['payments', 'refunds'] });
    const second = triggers({ topics: ['refunds'] });
    expect(two).toEqual(expect.arrayContaining(one));
    expect(two).toEqual(expect.arrayContaining(second));
    expect(new Set(two.map((t) => t.id)).size).toBe(2);
    expect(one).toEqual([
      expect.objectContaining({ topic: 'payments', group: 'seqguard-apply-events.payments' }),
    ]);
  });

  it('derives the groups from the prefix, so two deployments in one account never share one', () => {
    // The same page: a consumer group id "must be unique among all your Kafka event sources".
    expect(triggers({ prefix: 'shop' })).toEqual([
      expect.objectContaining({ group: 'shop-apply-events.seqguard.events' }),
    ]);
    expect(triggers({ prefix: 'shop', consumerGroupId: 'bank-sink' })).toEqual([
      expect.objectContaining({ group: 'bank-sink.seqguard.events' }),
    ]);
    expect(() => synthAws({ consumerGroupId: 'g'.repeat(190) })).toThrow(/at most 200 characters/);
  });
});

describe('low-latency mode (eventSource.lowLatency)', () => {
  const lowLatency = synthAws({ eventSource: { lowLatency: true } }).pipeline;

  it('sets the batching window to 0 and keeps provisioned mode, with a fixed number of pollers', () => {
    const mappings = Object.values(lowLatency.findResources('AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(1);
    // Written out, not left to the default: a Kafka mapping's default window is 500 ms.
    expect(mappings[0]?.Properties.MaximumBatchingWindowInSeconds).toBe(0);
    expect(mappings[0]?.Properties.ProvisionedPollerConfig).toEqual({
      MinimumPollers: 1,
      MaximumPollers: 1,
    });
    expect(mappings[0]?.Properties).toMatchObject({
      BatchSize: 500,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
    });
  });

  it('keeps the pollers asked for, and the default window elsewhere', () => {
    synthAws({
      eventSource: { lowLatency: true, minimumPollers: 4, maximumPollers: 6 },
    }).pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumBatchingWindowInSeconds: 0,
      ProvisionedPollerConfig: { MinimumPollers: 4, MaximumPollers: 6 },
    });
    synthAws({ eventSource: { minimumPollers: 2 } }).pipeline.hasResourceProperties(
      'AWS::Lambda::EventSourceMapping',
      {
        MaximumBatchingWindowInSeconds: 1,
        ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 3 },
      },
    );
  });

  it('refuses a batching window other than 0, naming the AWS page', () => {
    expect(() =>
      synthAws({ eventSource: { lowLatency: true, maxBatchingWindowSeconds: 1 } }),
    ).toThrow(
      /eventSource\.maxBatchingWindowSeconds: must be 0 .*https:\/\/docs\.aws\.amazon\.com\/lambda\/latest\/dg\/with-kafka-low-latency\.html/,
    );
    expect(() =>
      synthAws({ eventSource: '{"lowLatency":"true","maxBatchingWindowSeconds":"0"}' }),
    ).not.toThrow();
  });
});

// Lambda developer guide, "Configuring provisioned concurrency for a function"
// (https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html): provisioned
// concurrency is set on a published version or an alias, not on $LATEST. "Low latency processing
// for Kafka event sources" (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-low-latency.html)
// recommends it on the mapping's target function against cold starts, and gives each poller up
// to 5 concurrent invocations. CloudFormation, AWS::Lambda::Alias ProvisionedConcurrencyConfiguration
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-alias-provisionedconcurrencyconfiguration.html):
// ProvisionedConcurrentExecutions on the alias.
describe('provisioned concurrency (provisionedConcurrency)', () => {
  const topics = ['payments', 'refunds'];
  const warm = synthAws({ topics, provisionedConcurrency: 3 });
  const cold = synthAws({ topics });
  const idsOf = (template: Template, type: string) => Object.keys(template.findResources(type));
  const mappingTargets = (template: Template) =>
    Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).map(
      (m) => m.Properties.FunctionName,
    );

  it('is off by default: no version, no alias, every mapping invokes the function', () => {
    for (const template of [pipeline, cold.pipeline]) {
      expect(idsOf(template, 'AWS::Lambda::Version')).toEqual([]);
      expect(idsOf(template, 'AWS::Lambda::Alias')).toEqual([]);
    }
    expect(mappingTargets(cold.pipeline)).toEqual([{ Ref: applyEventsId }, { Ref: applyEventsId }]);
  });

  it("publishes apply-events' current version and an alias live with the provisioned concurrency", () => {
    const [versionId, ...moreVersions] = idsOf(warm.pipeline, 'AWS::Lambda::Version');
    expect(moreVersions).toEqual([]);
    const version = warm.pipeline.findResources('AWS::Lambda::Version')[versionId as string];
    expect(version?.Properties).toEqual({ FunctionName: { Ref: applyEventsId } });
    // The version the alias leaves on the next deploy is deleted, not kept.
    expect(version?.DeletionPolicy).toBe('Delete');
    const aliases = Object.values(warm.pipeline.findResources('AWS::Lambda::Alias'));
    expect(aliases).toHaveLength(1);
    expect(aliases[0]?.Properties).toMatchObject({
      Name: 'live',
      FunctionName: { Ref: applyEventsId },
      FunctionVersion: { 'Fn::GetAtt': [versionId, 'Version'] },
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 3 },
    });
  });

  it('points every Kafka mapping at the alias ARN, with the rest of each mapping unchanged', () => {
    const [aliasId] = idsOf(warm.pipeline, 'AWS::Lambda::Alias');
    expect(aliasId).toBeDefined();
    expect(mappingTargets(warm.pipeline)).toEqual([{ Ref: aliasId }, { Ref: aliasId }]);
    const withoutTarget = (template: Template) =>
      Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).map((m) => {
        const { FunctionName: _, ...rest } = m.Properties as Record<string, unknown>;
        return rest;
      });
    expect(withoutTarget(warm.pipeline)).toEqual(withoutTarget(cold.pipeline));
  });

  it("leaves apply-events' role as it was: the mapping polls with it, whatever it invokes", () => {
    expect(warm.text.permissionsOf('PipelineApplyEventsRole')).toEqual(
      cold.text.permissionsOf('PipelineApplyEventsRole'),
    );
  });

  it('keeps the function alarms on FunctionName, which counts the alias too, and graphs the alias', () => {
    for (const metric of ['Errors', 'Throttles']) {
      warm.pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `seqguard-ApplyEvents-${metric}`,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: applyEventsId } }],
      });
    }
    const body = (template: Template) =>
      text.render(
        Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties
          .DashboardBody,
      );
    const resource = `"Resource","{PipelineApplyEventsFunction}:live"`;
    for (const metric of [
      'ProvisionedConcurrencyUtilization',
      'ProvisionedConcurrencySpilloverInvocations',
    ]) {
      expect(body(warm.pipeline)).toContain(
        `"${metric}","FunctionName","{PipelineApplyEventsFunction}",${resource}`,
      );
      expect(body(cold.pipeline)).not.toContain(metric);
    }
  });

  it('warns at synth when the trigger could never use all of it (5 invocations per poller)', () => {
    const warning = Match.stringLikeRegexp(
      'provisionedConcurrency .* more than the trigger can use',
    );
    // 2 mappings of at most 3 pollers: 30 concurrent invocations at most.
    const at = (provisionedConcurrency: number) =>
      Annotations.fromStack(
        synthAws({ topics, provisionedConcurrency }).stacks.pipeline,
      ).findWarning('*', warning);
    expect(at(30)).toEqual([]);
    expect(at(31)).toHaveLength(1);
  });

  it.each([[-1], [1.5], ['two'], [true], ['']])(
    'refuses %j with an error that names the setting and the rule',
    (value) => {
      expect(() => synthAws({ provisionedConcurrency: value })).toThrow(
        /provisionedConcurrency: a whole number of execution environments of apply-events to keep initialized, 0 \(none\) or more/,
      );
    },
  );

  it('takes the number as -c gives it, a string', () => {
    const fromCli = synthAws({ provisionedConcurrency: '2' }).pipeline;
    fromCli.hasResourceProperties('AWS::Lambda::Alias', {
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 },
    });
    expect(idsOf(synthAws({ provisionedConcurrency: '0' }).pipeline, 'AWS::Lambda::Alias')).toEqual(
      [],
    );
  });
});

describe('IAM', () => {
  it('gives apply-events (and its event source mapping) exactly its topics, group and dead-letter topic', () => {
    expect(text.permissionsOf('PipelineApplyEventsRole')).toEqual(
      [
        ...common('ApplyEvents'),
        `ec2:CreateNetworkInterface ${arn('ec2', 'security-group/{KafkaSecurityGroup.GroupId}')}`,
        'kafka:DescribeClusterV2 {KafkaCluster.Arn}',
        'kafka:GetBootstrapBrokers {KafkaCluster.Arn}',
        'kafka-cluster:DescribeClusterDynamicConfiguration {KafkaCluster.Arn}',
        `kafka-cluster:DescribeTopic ${topic('seqguard.events')}`,
        `kafka-cluster:ReadData ${topic('seqguard.events')}`,
        `kafka-cluster:DescribeTopic ${topic('seqguard.events.failed')}`,
        `kafka-cluster:WriteData ${topic('seqguard.events.failed')}`,
        `kafka-cluster:DescribeGroup ${group('seqguard-apply-events.seqguard.events')}`,
        `kafka-cluster:AlterGroup ${group('seqguard-apply-events.seqguard.events')}`,
        // Its record reader, for the ledger's holes: a throw-away group that commits nothing.
        `kafka-cluster:DescribeGroup ${arn('kafka', 'group/seqguard-kafka/*/seqguard-reader-*')}`,
        `kafka-cluster:AlterGroup ${arn('kafka', 'group/seqguard-kafka/*/seqguard-reader-*')}`,
      ].sort(),
    );
  });

  it.each([['CheckDrift'], ['Replay']] as const)(
    'lets %s read the topics and look at, never alter, the mapping group',
    (name) => {
      const readerGroups = arn('kafka', 'group/seqguard-kafka/*/seqguard-reader-*');
      expect(text.permissionsOf(`Pipeline${name}Role`)).toEqual(
        [
          ...common(name),
          `kafka-cluster:DescribeTopic ${topic('seqguard.events')}`,
          `kafka-cluster:ReadData ${topic('seqguard.events')}`,
          `kafka-cluster:DescribeGroup ${group('seqguard-apply-events.seqguard.events')}`,
          `kafka-cluster:DescribeGroup ${readerGroups}`,
          `kafka-cluster:AlterGroup ${readerGroups}`,
        ].sort(),
      );
    },
  );

  it('lets the scheduler invoke check-drift and nothing else', () => {
    expect(text.permissionsOf('PipelineSchedulerRole')).toEqual([
      'lambda:InvokeFunction {PipelineCheckDriftFunction.Arn}',
      'lambda:InvokeFunction {PipelineCheckDriftFunction.Arn}:*',
    ]);
    pipeline.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': testEnv.account } },
          }),
        ],
      },
    });
  });

  it('uses Resource "*" only for EC2 Describe actions, which cannot be scoped', () => {
    const wildcards = text
      .iamStatements()
      .filter((s) => s.resources.includes('*'))
      .flatMap((s) => s.actions);
    expect([...new Set(wildcards)].sort()).toEqual([
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeSubnets',
      'ec2:DescribeVpcs',
    ]);
  });

  it('attaches no AWS managed policy to the functions', () => {
    for (const role of Object.values(pipeline.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('functions', () => {
  it.each([
    ['seqguard-apply-events', 1024, 60],
    ['seqguard-check-drift', 512, 55],
    ['seqguard-replay', 1024, 900],
  ])('%s runs Node 24 on arm64 with source maps, in the VPC', (name, memory, timeout) => {
    pipeline.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: name,
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: memory,
      Timeout: timeout,
      VpcConfig: Match.objectLike({ SecurityGroupIds: Match.anyValue() }),
      Environment: { Variables: Match.objectLike({ NODE_OPTIONS: '--enable-source-maps' }) },
    });
    const [fn] = Object.values(
      pipeline.findResources('AWS::Lambda::Function', { Properties: { FunctionName: name } }),
    );
    expect(text.render(fn?.Properties.LoggingConfig.LogGroup)).toMatch(/^\{Pipeline\w+LogGroup\}$/);
    pipeline.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('passes the Redis secret by ARN: no password in any environment variable', () => {
    for (const [id, fn] of Object.entries(pipeline.findResources('AWS::Lambda::Function'))) {
      if (![applyEventsId, checkDriftId].includes(id) && !id.startsWith('PipelineReplay')) continue;
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      expect(text.render(variables.SEQGUARD_REDIS_AUTH_SECRET_ARN)).toBe('{RedisAuthSecret}');
      expect(text.render(variables.REDIS_URL)).toBe(
        'rediss://{RedisReplicationGroup.ConfigurationEndPoint.Address}:{RedisReplicationGroup.ConfigurationEndPoint.Port}',
      );
      expect(variables.SEQGUARD_REDIS_CLUSTER).toBe('true');
      expect(JSON.stringify(variables)).not.toMatch(/password|resolve:secretsmanager/i);
    }
  });

  // WAIT: https://redis.io/docs/latest/commands/wait/; Serverless shows one virtual node and runs
  // its replication out of sight (ElastiCache guide, "Valkey and Redis OSS configuration and
  // limits", cluster-enabled).
  it('makes every write wait for one replica when the shards have replicas, and not on Serverless', () => {
    const waitOf = (template: Template, id: string) =>
      (
        template.findResources('AWS::Lambda::Function')[id]?.Properties.Environment.Variables as
          | Record<string, string>
          | undefined
      )?.SEQGUARD_REDIS_WAIT_REPLICAS;
    for (const id of [applyEventsId, checkDriftId]) expect(waitOf(pipeline, id)).toBe('1');
    const twoReplicas = synthAws({ redis: { replicasPerShard: 2 } });
    expect(waitOf(twoReplicas.pipeline, applyEventsId)).toBe('1');
    const serverless = synthAws({ redis: { mode: 'serverless' } });
    expect(waitOf(serverless.pipeline, applyEventsId)).toBe('0');
    const chosen = synthAws({ sinkEnvironment: { SEQGUARD_REDIS_WAIT_REPLICAS: '2' } });
    expect(waitOf(chosen.pipeline, applyEventsId)).toBe('2');
  });
});

describe('network', () => {
  it('opens only the paths each function is bound to, and nothing to the internet', () => {
    const fromFunctions = (port: string, group: string) =>
      ['ApplyEvents', 'CheckDrift', 'Replay'].flatMap((f) => [
        `in {${group}.GroupId} from {Pipeline${f}SecurityGroup.GroupId} ${port}`,
        `out {Pipeline${f}SecurityGroup.GroupId} to {${group}.GroupId} ${port}`,
      ]);
    // apply-events reads the log too, to tell a hole in a partition's ledger from offsets that
    // hold no record (core/sink/apply-records.ts).
    const readers = ['ApplyEvents', 'CheckDrift', 'Replay'].flatMap((f) => [
      `in {KafkaSecurityGroup.GroupId} from {Pipeline${f}SecurityGroup.GroupId} tcp 9098`,
      `out {Pipeline${f}SecurityGroup.GroupId} to {KafkaSecurityGroup.GroupId} tcp 9098`,
    ]);
    const pollers = ['Lambda', 'Sts'].flatMap((e) => [
      `in {Network${e}EndpointSecurityGroup.GroupId} from {KafkaSecurityGroup.GroupId} tcp 443`,
      `out {KafkaSecurityGroup.GroupId} to {Network${e}EndpointSecurityGroup.GroupId} tcp 443`,
    ]);
    // CDK's way of writing "no egress at all" on a group with no other egress rule.
    const noEgress = (group: string) => `out {${group}.GroupId} to 255.255.255.255/32 icmp 252-86`;
    expect(text.securityGroupRules()).toEqual(
      [
        ...fromFunctions('tcp 6379', 'RedisSecurityGroup'),
        ...fromFunctions('tcp 443', 'NetworkSecretsManagerEndpointSecurityGroup'),
        ...readers,
        ...pollers,
        'in {KafkaSecurityGroup.GroupId} from {KafkaSecurityGroup.GroupId} tcp 9098',
        'out {KafkaSecurityGroup.GroupId} to {KafkaSecurityGroup.GroupId} tcp 9098',
        noEgress('RedisSecurityGroup'),
        noEgress('NetworkSecretsManagerEndpointSecurityGroup'),
        noEgress('NetworkLambdaEndpointSecurityGroup'),
        noEgress('NetworkStsEndpointSecurityGroup'),
      ].sort(),
    );
  });
});

describe('schedule', () => {
  it('runs check-drift every minute, without retries that would overlap the next run', () => {
    pipeline.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::GetAtt': [checkDriftId, 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PipelineSchedulerRole'), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    });
  });
});

describe('alarms', () => {
  const topicRef = { Ref: Match.stringLikeRegexp('^PipelineMonitoringAlarmTopic') };
  const pagesAtOnce = new Set<AlarmName>([
    'commitAheadRecords',
    'redisBehindRecords',
    'openGaps',
    'deadLetters',
    'stateDriftKeys',
    'vanishedShards',
  ]);

  it.each(Object.keys(alarmMetrics) as AlarmName[])(
    '%s pages from the check-drift metric at the thresholds.ts value',
    (name) => {
      const minutes = pagesAtOnce.has(name) ? 1 : 3;
      pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'seqguard',
        MetricName: alarmMetrics[name],
        Dimensions: [{ Name: 'service', Value: 'check-drift' }],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: defaultThresholds[name],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: minutes,
        DatapointsToAlarm: minutes,
        TreatMissingData: 'notBreaching',
        AlarmActions: [topicRef],
        OKActions: [topicRef],
      });
    },
  );

  it('pages when the drift check stops reporting (missing data breaches)', () => {
    pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'seqguard-DriftCheckSilent',
      MetricName: 'ConsumerLag',
      Dimensions: [{ Name: 'service', Value: 'check-drift' }],
      Statistic: 'SampleCount',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [topicRef],
    });
  });

  it("pages on the event source mapping's OffsetLag at the consumer lag threshold", () => {
    pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'OffsetLag',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: applyEventsId } }],
      Statistic: 'Maximum',
      Threshold: defaultThresholds.consumerLagRecords,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicRef],
    });
  });

  it.each([
    ['ApplyEvents', 3],
    ['CheckDrift', 3],
    ['Replay', 1],
  ])('pages on %s errors and throttles', (name, minutes) => {
    for (const metric of ['Errors', 'Throttles']) {
      pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `seqguard-${name}-${metric}`,
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [
          {
            Name: 'FunctionName',
            Value: { Ref: Match.stringLikeRegexp(`^Pipeline${name}Function`) },
          },
        ],
        Statistic: 'Sum',
        Threshold: 1,
        EvaluationPeriods: minutes,
        TreatMissingData: 'notBreaching',
        AlarmActions: [topicRef],
      });
    }
  });

  it('reads threshold overrides from the context, like SEQGUARD_THRESHOLDS', () => {
    const custom = synthAws({ thresholds: { timeLagSeconds: 60, consumerLagRecords: 500 } });
    custom.pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'TimeLagSeconds',
      Threshold: 60,
    });
    custom.pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'OffsetLag',
      Threshold: 500,
    });
    custom.pipeline.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'seqguard-check-drift',
      Environment: {
        Variables: Match.objectLike({
          SEQGUARD_THRESHOLDS: '{"timeLagSeconds":60,"consumerLagRecords":500}',
        }),
      },
    });
    expect(() => synthAws({ thresholds: { lagRecords: 5 } })).toThrow(/lagRecords/);
  });

  it('sends to an encrypted topic with no subscriber when paging is none, and says so', () => {
    pipeline.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: Match.objectLike({ 'Fn::GetAtt': Match.anyValue() }),
    });
    expect(pipeline.findResources('AWS::SNS::Subscription')).toEqual({});
    expect(pipeline.findResources('AWS::Chatbot::SlackChannelConfiguration')).toEqual({});
    // At every synth, and as the stack's output that `seqguard doctor` reads.
    Annotations.fromStack(stacks.pipeline).hasWarning(
      '*',
      Match.stringLikeRegexp('NOBODY IS PAGED, as decided \\(paging.none: "infra tests"\\)'),
    );
    pipeline.hasOutput(pagingNoneOutput, { Value: 'infra tests' });
  });

  it('refuses a deployment that pages nobody without saying so, naming the context keys', () => {
    for (const paging of [undefined, {}, { emails: [] }, '{}']) {
      expect(() => synthAws({ paging })).toThrow(
        /paging: nobody would be paged.*"pagerDutyUrl".*"emails".*"slack".*"none": "<why>"/s,
      );
    }
    expect(() => synthAws({ paging: { none: '  ' } })).toThrow(/paging.none: the reason/);
    expect(() =>
      synthAws({ paging: { none: 'sandbox', emails: ['oncall@bank.example'] } }),
    ).toThrow(/"none" says nobody is paged, so it takes no targets/);
  });

  it('says at synth that e-mail subscribers receive nothing until they confirm', () => {
    // Amazon SNS developer guide, "Email notifications"
    // (https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html): the endpoint
    // owner must confirm the subscription before it receives messages.
    const paged = synthAws({ paging: { emails: ['a@bank.example', 'b@bank.example'] } });
    Annotations.fromStack(paged.stacks.pipeline).hasWarning(
      '*',
      Match.stringLikeRegexp(
        'each of the 2 paging e-mail address\\(es\\) receives nothing until it confirms',
      ),
    );
    expect(
      Annotations.fromStack(paged.stacks.pipeline).findWarning(
        '*',
        Match.stringLikeRegexp('NOBODY IS PAGED'),
      ),
    ).toEqual([]);
    paged.pipeline.hasOutput('Paging', { Value: '2 e-mail address(es)' });
    expect(paged.pipeline.findOutputs(pagingNoneOutput)).toEqual({});
  });

  it('subscribes PagerDuty (HTTPS), e-mail and Slack (AWS Chatbot) from the context', () => {
    const paged = synthAws({
      paging: {
        pagerDutyUrl: 'https://events.pagerduty.com/integration/abc123/enqueue',
        emails: ['oncall@bank.example'],
        slack: { workspaceId: 'T0123', channelId: 'C0456' },
      },
    });
    paged.pipeline.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'https',
      Endpoint: 'https://events.pagerduty.com/integration/abc123/enqueue',
    });
    paged.pipeline.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@bank.example',
    });
    paged.pipeline.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: 'T0123',
      SlackChannelId: 'C0456',
      SnsTopicArns: [topicRef],
    });
    expect(() => synthAws({ paging: { pagerDutyUrl: 'http://insecure.example' } })).toThrow(
      /paging.pagerDutyUrl/,
    );
  });

  // A deployment's metrics live in a namespace of its own, its prefix, so a second deployment in
  // the account and region (prefix `shop`) never feeds this one's alarms; CloudWatch keeps metrics
  // apart by namespace (CloudWatch user guide, "Namespaces",
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Namespace).
  describe('the metrics namespace', () => {
    const shop = synthAws({ prefix: 'shop' });
    /** Every namespace the template's alarms read, and the dashboard's seqguard metrics. */
    function namespacesOf(template: Template, render: (value: unknown) => string) {
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
        (a) => a.Properties.Namespace as string,
      );
      const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
      const body = JSON.parse(render(dashboard?.Properties.DashboardBody)) as {
        widgets: { properties: { metrics?: unknown[][] } }[];
      };
      const graphed = body.widgets.flatMap((w) => (w.properties.metrics ?? []).map((m) => m[0]));
      const ours = (namespaces: unknown[]) =>
        new Set(namespaces.filter((n) => typeof n === 'string' && !n.startsWith('AWS/')));
      return { alarms: ours(alarms), dashboard: ours(graphed), drift: alarms };
    }
    const variableOf = (template: Template, name: string) => {
      const [fn] = Object.values(
        template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: name } }),
      );
      if (!fn) throw new Error(`no function ${name}`);
      return (fn.Properties.Environment.Variables as Record<string, string>)
        .SEQGUARD_METRICS_NAMESPACE;
    };

    it('is the prefix: every alarm and dashboard metric of the functions reads namespace shop', () => {
      const seen = namespacesOf(shop.pipeline, (v) => shop.text.render(v as never));
      expect(seen.alarms).toEqual(new Set(['shop']));
      expect(seen.dashboard).toEqual(new Set(['shop']));
      // Every drift alarm and DriftCheckSilent among them.
      const inShop = seen.drift.filter((n) => n === 'shop').length;
      expect(inShop).toBe(Object.keys(alarmMetrics).length + 1);
    });

    it('is set on the functions that publish metrics, apply-events and check-drift', () => {
      expect(variableOf(shop.pipeline, 'shop-apply-events')).toBe('shop');
      expect(variableOf(shop.pipeline, 'shop-check-drift')).toBe('shop');
      expect(variableOf(shop.pipeline, 'shop-replay')).toBeUndefined();
    });

    it('stays seqguard for the default prefix, as before it followed the prefix', () => {
      const seen = namespacesOf(pipeline, (v) => text.render(v as never));
      expect(seen.alarms).toEqual(new Set(['seqguard']));
      expect(seen.dashboard).toEqual(new Set(['seqguard']));
      expect(variableOf(pipeline, 'seqguard-apply-events')).toBe('seqguard');
      expect(variableOf(pipeline, 'seqguard-check-drift')).toBe('seqguard');
    });

    it('cannot be set apart from the prefix through sinkEnvironment', () => {
      expect(() =>
        synthAws({ sinkEnvironment: { SEQGUARD_METRICS_NAMESPACE: 'elsewhere' } }),
      ).toThrow(/SEQGUARD_METRICS_NAMESPACE is set by the stack, from `prefix`/);
    });
  });

  it('shows every alarm metric on the dashboard', () => {
    const [dashboard] = Object.values(pipeline.findResources('AWS::CloudWatch::Dashboard'));
    const body = text.render(dashboard?.Properties.DashboardBody);
    for (const metric of [...Object.values(alarmMetrics), 'OffsetLag', 'EventsApplied']) {
      expect(body).toContain(`"${metric}"`);
    }
  });
});
