/**
 * The AWS rules a deployment depends on, each asserted on the synthesized templates and named
 * with the documentation page it comes from. A test here fails when the stacks would synthesize
 * fine and then be refused (or silently not work) at deploy or run time.
 */
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { rotationReason } from '../../infra/constructs/redis-cache.ts';
import { mskTriggerActions } from '../helpers/aws-rules.ts';
import { synthApp } from '../helpers/cdk.ts';
import { TemplateText } from '../helpers/template.ts';

type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }
>;

function synthAws(context: Record<string, unknown> = {}) {
  const { stacks } = synthApp(context);
  if (stacks.stage !== 'aws') throw new Error('expected the AWS stage');
  const data = Template.fromStack(stacks.data);
  const pipeline = Template.fromStack(stacks.pipeline);
  return {
    data,
    pipeline,
    text: new TemplateText([data, pipeline]),
    resources: {
      data: data.toJSON().Resources as Resources,
      pipeline: pipeline.toJSON().Resources as Resources,
    },
  };
}

const configurations = {
  default: {},
  serverless: { kafka: { mode: 'serverless' }, redis: { mode: 'serverless' } },
  'Redis OSS engine': { redis: { engine: 'redis', engineVersion: '7.1' } },
  'two topics': { topics: ['payments', 'refunds'] },
} as const;

const synthesized = Object.fromEntries(
  Object.entries(configurations).map(([name, context]) => [name, synthAws(context)]),
);
const cases = Object.keys(configurations).map((name) => [name] as const);

describe('ElastiCache RBAC', () => {
  // ElastiCache guide, "Role-Based Access Control (RBAC)"
  // (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html): "A user group
  // configured for the VALKEY engine can only contain users who are using an authentication
  // mechanism (either password or IAM)".
  it.each(cases)('%s: every user of a user group authenticates (password or IAM)', (name) => {
    const { resources } = synthesized[name] as ReturnType<typeof synthAws>;
    const users = Object.entries(resources.data).filter(
      ([, r]) => r.Type === 'AWS::ElastiCache::User',
    );
    expect(users.length).toBeGreaterThan(0);
    for (const [, user] of users) {
      const p = user.Properties ?? {};
      expect(p.NoPasswordRequired).not.toBe(true);
      expect(['password', 'iam']).toContain((p.AuthenticationMode as { Type?: string })?.Type);
    }
  });

  // AWS::ElastiCache::UserGroup, UserIds: "A user named default must be included"
  // (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticache-usergroup.html).
  it.each(cases)('%s: every user group includes a user named default', (name) => {
    const { resources, text } = synthesized[name] as ReturnType<typeof synthAws>;
    const userNameById = new Map(
      Object.values(resources.data)
        .filter((r) => r.Type === 'AWS::ElastiCache::User')
        .map((r) => [r.Properties?.UserId, r.Properties?.UserName]),
    );
    for (const group of Object.values(resources.data)) {
      if (group.Type !== 'AWS::ElastiCache::UserGroup') continue;
      const ids = (group.Properties?.UserIds ?? []) as unknown[];
      const names = ids.map((id) => userNameById.get(text.render(id)));
      expect(names).toContain('default');
    }
  });

  it('lets the app user touch only the deployment key prefix, with no +@all', () => {
    const { data } = synthAws({ sinkEnvironment: { SEQGUARD_KEY_PREFIX: 'bank' } });
    const [app] = Object.values(
      data.findResources('AWS::ElastiCache::User', { Properties: { UserName: 'seqguard' } }),
    );
    const access = String(app?.Properties.AccessString).split(' ');
    expect(access.filter((t) => t.startsWith('~'))).toEqual(['~{bank:*', '~{bank~*']);
    expect(access).not.toContain('+@all');
    expect(access).not.toContain('~*');
    expect(access).toContain('-@dangerous');
  });

  // ElastiCache guide, "Automatically rotating passwords for users"
  // (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/User-Secrets-Manager.html):
  // Secrets Manager can rotate RBAC passwords, so a reason that says it cannot is untrue.
  it('gives a true cdk-nag reason for not rotating the Redis secret (SMG4)', () => {
    expect(rotationReason).not.toMatch(/no managed rotation/i);
    expect(rotationReason).toContain('Automatically rotating passwords for users');
  });
});

/**
 * The `kafka-cluster:*` actions each action needs beside it: Amazon MSK Developer Guide,
 * "Semantics of IAM authorization policy actions and resources", Required actions column
 * (https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html).
 */
const requiredWith: Record<string, string[]> = {
  'kafka-cluster:Connect': [],
  'kafka-cluster:DescribeCluster': ['kafka-cluster:Connect'],
  'kafka-cluster:DescribeClusterDynamicConfiguration': ['kafka-cluster:Connect'],
  'kafka-cluster:DescribeTopic': ['kafka-cluster:Connect'],
  'kafka-cluster:ReadData': [
    'kafka-cluster:Connect',
    'kafka-cluster:DescribeTopic',
    'kafka-cluster:AlterGroup',
  ],
  'kafka-cluster:WriteData': ['kafka-cluster:Connect', 'kafka-cluster:DescribeTopic'],
  'kafka-cluster:DescribeGroup': ['kafka-cluster:Connect'],
  'kafka-cluster:AlterGroup': ['kafka-cluster:Connect', 'kafka-cluster:DescribeGroup'],
};

const actionsOf = (text: TemplateText, role: string) =>
  new Set(text.permissionsOf(role).map((p) => p.split(' ')[0] as string));

describe('MSK IAM access of the functions', () => {
  // Lambda developer guide, "Configuring Amazon MSK event sources for Lambda", IAM role-based
  // authentication (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html), and
  // "Configuring Lambda execution role permissions"
  // (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html); the troubleshooting
  // section names the missing DescribeClusterDynamicConfiguration as "DescribeConfigs Cluster".
  it.each(cases)(
    '%s: the trigger role has every action the MSK event source mapping uses',
    (name) => {
      const { text } = synthesized[name] as ReturnType<typeof synthAws>;
      const actions = actionsOf(text, 'PipelineApplyEventsRole');
      for (const action of [
        ...mskTriggerActions,
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeVpcs',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
      ]) {
        expect(actions, action).toContain(action);
      }
    },
  );

  it.each(
    cases.flatMap(([name]) =>
      ['PipelineApplyEventsRole', 'PipelineCheckDriftRole', 'PipelineReplayRole'].map(
        (role) => [name, role] as const,
      ),
    ),
  )('%s: %s holds the actions MSK requires with each kafka-cluster action', (name, role) => {
    const { text } = synthesized[name] as ReturnType<typeof synthAws>;
    const actions = actionsOf(text, role);
    for (const action of actions) {
      if (!action.startsWith('kafka-cluster:')) continue;
      expect(requiredWith[action], `${action} is in the table`).toBeDefined();
      for (const required of requiredWith[action] ?? []) {
        expect(actions, `${action} needs ${required}`).toContain(required);
      }
    }
  });
});

describe('Kafka triggers', () => {
  // Lambda developer guide, "Customizable consumer group ID": "The consumer group ID that you
  // specify must be unique among all your Kafka event sources"
  // (https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html).
  it.each(cases)('%s: gives every event source mapping its own consumer group id', (name) => {
    const { resources } = synthesized[name] as ReturnType<typeof synthAws>;
    const groups = Object.values(resources.pipeline)
      .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
      .map(
        (r) =>
          (
            r.Properties?.AmazonManagedKafkaEventSourceConfig as
              | { ConsumerGroupId: string }
              | undefined
          )?.ConsumerGroupId,
      );
    expect(groups.length).toBe(name === 'two topics' ? 2 : 1);
    expect(new Set(groups).size).toBe(groups.length);
  });
});

describe('cdk destroy, then cdk deploy again', () => {
  // CloudFormation User Guide, "DeletionPolicy attribute": a retained resource stays after its
  // stack is deleted (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html);
  // CloudWatch Logs CreateLogGroup fails with ResourceAlreadyExistsException for a name that
  // exists (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html).
  it.each(cases)('%s: keeps no resource with a fixed name in the pipeline stack', (name) => {
    const { resources } = synthesized[name] as ReturnType<typeof synthAws>;
    for (const [id, r] of Object.entries(resources.pipeline)) {
      if (r.DeletionPolicy !== 'Retain') continue;
      expect(r.Type, id).toBe('AWS::Logs::LogGroup');
      expect(r.Properties?.LogGroupName, id).toBeUndefined();
    }
  });

  // Amazon VPC User Guide, "Delete your VPC": a VPC, subnet or security group that network
  // interfaces still use cannot be deleted
  // (https://docs.aws.amazon.com/vpc/latest/userguide/delete-vpc.html). With retainData, what
  // the kept clusters use is kept with them, so the destroy cannot fail half way.
  it('with retainData, keeps every data-stack resource the kept clusters use', () => {
    const { resources } = synthesized.default as ReturnType<typeof synthAws>;
    const deleted = Object.entries(resources.data)
      .filter(([, r]) => r.DeletionPolicy !== 'Retain')
      .map(([, r]) => r.Type);
    expect([...new Set(deleted)].sort()).toEqual([
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::Lambda::Function',
      'Custom::AWS',
    ]);
  });

  it('without retainData, keeps nothing at all', () => {
    for (const context of [{}, configurations.serverless]) {
      const { resources } = synthAws({ ...context, retainData: false });
      for (const stack of [resources.data, resources.pipeline]) {
        for (const [id, r] of Object.entries(stack)) {
          expect(r.DeletionPolicy ?? 'Delete', id).toBe('Delete');
        }
      }
    }
  });
});

describe('names', () => {
  // ElastiCache API Reference, CreateReplicationGroup, ReplicationGroupId: "The first character
  // must be a letter. A name cannot end with a hyphen or contain two consecutive hyphens."
  // (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html).
  it.each([['bank-'], ['bank--sink'], ['1bank'], ['Bank']])(
    'refuses the prefix %s with an error that names the rule',
    (prefix) => {
      expect(() => synthApp({ prefix })).toThrow(/prefix: ElastiCache and MSK names/);
    },
  );

  it('accepts a prefix with single hyphens', () => {
    expect(() => synthApp({ prefix: 'bank-sink-2' })).not.toThrow();
  });
});

describe('paging', () => {
  it('warns loudly at synth when the alarms page nobody', () => {
    const { stacks } = synthApp();
    if (stacks.stage !== 'aws') throw new Error('expected the AWS stage');
    Annotations.fromStack(stacks.pipeline).hasWarning(
      '*',
      Match.stringLikeRegexp('NOBODY IS PAGED'),
    );
    const { stacks: paged } = synthApp({ paging: { emails: ['oncall@bank.example'] } });
    if (paged.stage !== 'aws') throw new Error('expected the AWS stage');
    expect(
      Annotations.fromStack(paged.pipeline).findWarning('*', Match.stringLikeRegexp('NOBODY')),
    ).toEqual([]);
  });
});

describe('monitoring', () => {
  it('watches cache memory and engine CPU per node, broker disk, runs near their timeout, and the trigger metrics', () => {
    const { pipeline } = synthesized.default as ReturnType<typeof synthAws>;
    // The default cache: one shard, a primary and one replica.
    for (const node of ['seqguard-state-0001-001', 'seqguard-state-0001-002']) {
      for (const metric of ['DatabaseMemoryUsagePercentage', 'EngineCPUUtilization']) {
        pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/ElastiCache',
          MetricName: metric,
          Dimensions: [{ Name: 'CacheClusterId', Value: node }],
        });
      }
    }
    for (const broker of ['1', '2', '3']) {
      pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Kafka',
        MetricName: 'KafkaDataLogsDiskUsed',
        Dimensions: Match.arrayWith([{ Name: 'Broker ID', Value: broker }]),
      });
    }
    pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'seqguard-ApplyEvents-NearTimeout',
      MetricName: 'Duration',
      Threshold: 48_000,
    });
    // Lambda developer guide, "Event source mapping metrics": Kafka metrics need MetricsConfig.
    pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MetricsConfig: { Metrics: ['EventCount', 'ErrorCount', 'KafkaMetrics'] },
    });
  });
});
