/**
 * Bring your own clusters (`-c existing=…`): the pipeline stack alone, bound to a VPC, an MSK
 * cluster and an ElastiCache cache the user already runs, from their attributes (no lookups,
 * offline synth). The assertions are the ones a reviewer of the user's account would make: the
 * trigger reads the given cluster and topic, IAM names that cluster's topics and groups only,
 * nothing stateful is created, and only the given security groups are opened.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { mskTriggerActions } from '../helpers/aws-rules.ts';
import { existingClusters as existing, synthApp } from '../helpers/cdk.ts';
import { TemplateText } from '../helpers/template.ts';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

function synthExisting(context: Record<string, unknown> = {}) {
  const { app, stacks } = synthApp({ existing, ...context });
  if (stacks.stage !== 'existing') throw new Error('expected the bring-your-own stage');
  const pipeline = Template.fromStack(stacks.pipeline);
  return {
    app,
    stacks,
    pipeline,
    text: new TemplateText([pipeline]),
    resources: pipeline.toJSON().Resources as Resources,
  };
}

const { app, pipeline, text, resources } = synthExisting();
const clusterArn = existing.kafka.clusterArn;
const uuid = '1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-7';
const topicArn = (name: string) =>
  `arn:aws:kafka:eu-west-1:123456789012:topic/bank-kafka/${uuid}/${name}`;
const groupArn = (name: string) =>
  `arn:aws:kafka:eu-west-1:123456789012:group/bank-kafka/${uuid}/${name}`;
const roles = ['PipelineApplyEventsRole', 'PipelineCheckDriftRole', 'PipelineReplayRole'] as const;

describe('bring your own clusters', () => {
  it('defines the pipeline stack alone, and creates no VPC, broker, cache, user or secret', () => {
    // Assess
    expect(app.node.children.filter((c) => c instanceof Stack).map((c) => c.node.id)).toEqual([
      'seqguard-pipeline',
    ]);
    const types = new Set(Object.values(resources).map((r) => r.Type));
    for (const type of types) {
      expect(type, type).not.toMatch(
        /^AWS::(MSK|ElastiCache|SecretsManager)::|^AWS::EC2::(VPC|Subnet|VPCEndpoint|RouteTable|NatGateway|InternetGateway)$|^Custom::/,
      );
    }
  });

  it('points the trigger at the given cluster ARN and topic, with its own consumer group', () => {
    // Assess
    pipeline.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: clusterArn,
      Topics: ['seqguard.events'],
      AmazonManagedKafkaEventSourceConfig: {
        ConsumerGroupId: 'seqguard-apply-events.seqguard.events',
      },
      DestinationConfig: { OnFailure: { Destination: 'kafka://seqguard.events.failed' } },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it("gives check-drift and replay the cluster's IAM brokers and ARN, and the Redis endpoint and secret", () => {
    // Assess
    for (const name of ['PipelineCheckDriftFunction', 'PipelineReplayFunction']) {
      const [fn] = Object.entries(resources).filter(([id]) => id.startsWith(name));
      if (!fn) throw new Error(`no ${name}`);
      const environment = fn[1].Properties?.Environment as
        | { Variables: Record<string, string> }
        | undefined;
      const variables = environment?.Variables ?? {};
      expect(variables).toMatchObject({
        SEQGUARD_KAFKA_BOOTSTRAP: existing.kafka.bootstrapBrokers,
        SEQGUARD_MSK_CLUSTER_ARN: clusterArn,
        SEQGUARD_TOPICS: 'seqguard.events',
        REDIS_URL: existing.redis.url,
        SEQGUARD_REDIS_CLUSTER: 'true',
        SEQGUARD_REDIS_AUTH_SECRET_ARN: existing.redis.authSecretArn,
      });
    }
  });

  // Amazon MSK Developer Guide, "Semantics of IAM authorization policy actions and resources",
  // Authorization policy resources: topic and group ARNs are
  // arn:aws:kafka:<region>:<account>:topic/<cluster-name>/<cluster-uuid>/<topic-name> (and
  // group/…/<group-name>) (https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html).
  it('scopes every Kafka action to the given cluster, its topics and groups (MSK guide, kafka-actions)', () => {
    // Act
    const kafka = roles.flatMap((role) =>
      text.permissionsOf(role).filter((p) => p.startsWith('kafka')),
    );
    // Assess
    for (const pair of kafka) {
      const [action, resource] = pair.split(' ') as [string, string];
      if (
        /:(Connect|DescribeClusterDynamicConfiguration|DescribeClusterV2|GetBootstrapBrokers)$/.test(
          action,
        )
      ) {
        expect(resource, pair).toBe(clusterArn);
      } else if (/Topic|Data/.test(action)) {
        expect(resource, pair).toMatch(
          new RegExp(`^arn:aws:kafka:eu-west-1:123456789012:topic/bank-kafka/${uuid}/[^/*]+$`),
        );
      } else {
        expect(resource, pair).toMatch(
          new RegExp(`^arn:aws:kafka:eu-west-1:123456789012:group/bank-kafka/${uuid}/[^/]+$`),
        );
      }
    }
    expect(text.permissionsOf('PipelineApplyEventsRole')).toEqual(
      expect.arrayContaining([
        `kafka-cluster:ReadData ${topicArn('seqguard.events')}`,
        `kafka-cluster:WriteData ${topicArn('seqguard.events.failed')}`,
        `kafka-cluster:AlterGroup ${groupArn('seqguard-apply-events.seqguard.events')}`,
      ]),
    );
    for (const role of ['PipelineCheckDriftRole', 'PipelineReplayRole']) {
      const permissions = text.permissionsOf(role);
      expect(permissions).toContain(`kafka-cluster:ReadData ${topicArn('seqguard.events')}`);
      // The reader's throw-away groups, with the cluster's uuid in the ARN.
      expect(permissions).toContain(`kafka-cluster:AlterGroup ${groupArn('seqguard-reader-*')}`);
      expect(permissions).not.toContain(
        `kafka-cluster:AlterGroup ${groupArn('seqguard-apply-events.seqguard.events')}`,
      );
    }
  });

  // Lambda developer guide, "Configuring Lambda execution role permissions" for MSK
  // (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html) and "Configuring
  // Amazon MSK event sources for Lambda", IAM role-based authentication
  // (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html).
  it('gives the trigger role every action the MSK event source mapping uses (Lambda guide, with-msk-permissions)', () => {
    // Act
    const actions = new Set(
      text.permissionsOf('PipelineApplyEventsRole').map((p) => p.split(' ')[0]),
    );
    // Assess
    for (const action of mskTriggerActions) {
      expect(actions, action).toContain(action);
    }
  });

  // Lambda developer guide, "Creating a Lambda event source mapping for an Amazon MSK event
  // source": the mapping's hyperplane network interface "uses the subnet and security group
  // configuration of your MSK cluster, not your Lambda function"
  // (https://docs.aws.amazon.com/lambda/latest/dg/msk-esm-create.html); Lambda creates it with
  // the execution role's ec2 permissions ("Configuring Lambda execution role permissions").
  it("lets the trigger's role create network interfaces in the cluster's subnets with the cluster's security groups (Lambda guide, msk-esm-create)", () => {
    // Act
    const permissions = text.permissionsOf('PipelineApplyEventsRole');
    // Assess
    for (const sg of existing.kafka.securityGroupIds) {
      expect(permissions).toContain(
        `ec2:CreateNetworkInterface arn:aws:ec2:eu-west-1:123456789012:security-group/${sg}`,
      );
    }
    for (const subnet of existing.kafka.subnetIds) {
      expect(permissions).toContain(
        `ec2:CreateNetworkInterface arn:aws:ec2:eu-west-1:123456789012:subnet/${subnet}`,
      );
    }
  });

  // Lambda developer guide, "Giving Lambda functions access to resources in an Amazon VPC":
  // the execution role needs ec2:CreateNetworkInterface, DescribeNetworkInterfaces,
  // DescribeSubnets, DeleteNetworkInterface, AssignPrivateIpAddresses and
  // UnassignPrivateIpAddresses, and DescribeNetworkInterfaces only works on Resource "*"
  // (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
  it.each(roles)(
    '%s may manage the network interfaces of a function in the given subnets (Lambda guide, configuration-vpc)',
    (role) => {
      // Act
      const permissions = text.permissionsOf(role);
      // Assess
      expect(permissions).toEqual(
        expect.arrayContaining([
          'ec2:DescribeNetworkInterfaces *',
          'ec2:DescribeSubnets *',
          'ec2:CreateNetworkInterface arn:aws:ec2:eu-west-1:123456789012:network-interface/*',
          'ec2:DeleteNetworkInterface arn:aws:ec2:eu-west-1:123456789012:network-interface/*',
          'ec2:AssignPrivateIpAddresses arn:aws:ec2:eu-west-1:123456789012:network-interface/*',
          'ec2:UnassignPrivateIpAddresses arn:aws:ec2:eu-west-1:123456789012:network-interface/*',
          ...existing.subnetIds.map(
            (s) => `ec2:CreateNetworkInterface arn:aws:ec2:eu-west-1:123456789012:subnet/${s}`,
          ),
        ]),
      );
    },
  );

  it('attaches the three functions to the given subnets, each with a security group of its own', () => {
    // Assess
    const functions = Object.entries(resources).filter(
      ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.VpcConfig,
    );
    expect(functions).toHaveLength(3);
    for (const [id, fn] of functions) {
      const config = fn.Properties?.VpcConfig as {
        SubnetIds: string[];
        SecurityGroupIds: unknown[];
      };
      expect(config.SubnetIds, id).toEqual(existing.subnetIds);
      expect(
        config.SecurityGroupIds.map((g) => text.render(g)),
        id,
      ).toEqual([`{${id.replace(/Function[0-9A-F]{8}$/, 'SecurityGroup')}.GroupId}`]);
    }
  });

  // Amazon MSK Developer Guide, "Port information": clients inside AWS reach a cluster with IAM
  // access control on port 9098 (https://docs.aws.amazon.com/msk/latest/developerguide/port-info.html).
  it("opens the cluster's security group on 9098 (MSK guide, port-info) and the cache's on the URL's port, to the functions only", () => {
    // Act
    const opened = text
      .securityGroupRules()
      .filter((r) => r.startsWith('in sg-'))
      .sort();
    // Assess
    expect(opened).toEqual([
      'in sg-0c0c0c0c0c0c0c0c1 from {PipelineApplyEventsSecurityGroup.GroupId} tcp 9098',
      'in sg-0c0c0c0c0c0c0c0c1 from {PipelineCheckDriftSecurityGroup.GroupId} tcp 9098',
      'in sg-0c0c0c0c0c0c0c0c1 from {PipelineReplaySecurityGroup.GroupId} tcp 9098',
      'in sg-0e0e0e0e0e0e0e0e1 from {PipelineApplyEventsSecurityGroup.GroupId} tcp 6380',
      'in sg-0e0e0e0e0e0e0e0e1 from {PipelineCheckDriftSecurityGroup.GroupId} tcp 6380',
      'in sg-0e0e0e0e0e0e0e0e1 from {PipelineReplaySecurityGroup.GroupId} tcp 6380',
    ]);
    expect(text.securityGroupRules()).toContain(
      'out {PipelineCheckDriftSecurityGroup.GroupId} to sg-0c0c0c0c0c0c0c0c1 tcp 9098',
    );
  });

  it('reads the one given secret, and decrypts it with the given key through Secrets Manager only', () => {
    // Assess
    for (const role of roles) {
      const permissions = text.permissionsOf(role);
      expect(permissions.filter((p) => p.startsWith('secretsmanager:'))).toEqual([
        `secretsmanager:DescribeSecret ${existing.redis.authSecretArn}`,
        `secretsmanager:GetSecretValue ${existing.redis.authSecretArn}`,
      ]);
      expect(permissions.filter((p) => p.startsWith('kms:'))).toEqual([
        `kms:Decrypt ${existing.redis.authSecretKeyArn} [{"StringEquals":{"kms:ViaService":"secretsmanager.eu-west-1.amazonaws.com"}}]`,
      ]);
    }
  });

  it('asks for no key permission when the secret uses the AWS managed key', () => {
    // Prepare
    const { authSecretKeyArn: _, ...redis } = existing.redis;
    // Act
    const { text: withoutKey } = synthExisting({ existing: { ...existing, redis } });
    // Assess
    expect(
      withoutKey.permissionsOf('PipelineApplyEventsRole').filter((p) => p.startsWith('kms:')),
    ).toEqual([]);
  });

  it('sets SEQGUARD_REDIS_CLUSTER from redis.cluster', () => {
    // Act
    const { pipeline: single } = synthExisting({
      existing: { ...existing, redis: { ...existing.redis, cluster: false } },
    });
    // Assess
    for (const fn of Object.values(single.findResources('AWS::Lambda::Function'))) {
      const variables = (fn.Properties.Environment?.Variables ?? {}) as Record<string, string>;
      if ('REDIS_URL' in variables) expect(variables.SEQGUARD_REDIS_CLUSTER).toBe('false');
    }
  });
});

describe('bring your own clusters: refused at synth', () => {
  const withKafka = (kafka: Record<string, unknown>) => ({
    existing: { ...existing, kafka: { ...existing.kafka, ...kafka } },
  });
  const withRedis = (redis: Record<string, unknown>) => ({
    existing: { ...existing, redis: { ...existing.redis, ...redis } },
  });

  it.each([
    [
      'an ARN that is not an MSK cluster ARN',
      withKafka({ clusterArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/bank' }),
      /existing\.kafka\.clusterArn: an MSK cluster ARN/,
    ],
    [
      "an MSK topic ARN in place of the cluster's",
      withKafka({ clusterArn: topicArn('seqguard.events') }),
      /existing\.kafka\.clusterArn: an MSK cluster ARN/,
    ],
    // Amazon MSK Developer Guide, "Port information": 9098 is the IAM listener inside AWS; 9092
    // is plaintext (https://docs.aws.amazon.com/msk/latest/developerguide/port-info.html).
    [
      'brokers on the plaintext port (MSK guide, port-info)',
      withKafka({ bootstrapBrokers: 'b-1.bankkafka.x1y2z3.c7.kafka.eu-west-1.amazonaws.com:9092' }),
      /existing\.kafka\.bootstrapBrokers: host:9098/,
    ],
    [
      'a Redis URL without TLS',
      withRedis({ url: 'redis://clustercfg.bank-state.x1y2z3.euw1.cache.amazonaws.com:6379' }),
      /existing\.redis\.url: rediss:\/\//,
    ],
    [
      'a Redis URL with credentials in it',
      withRedis({ url: 'rediss://app:secret@clustercfg.bank-state.euw1.cache.amazonaws.com:6379' }),
      /existing\.redis\.url: rediss:\/\//,
    ],
    // Secrets Manager API Reference, CreateSecret: a secret's ARN is its name followed by six
    // random characters; IAM matches the complete ARN
    // (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
    [
      'a partial secret ARN, without its six random characters (Secrets Manager, CreateSecret)',
      withRedis({
        authSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bank/redis',
      }),
      /existing\.redis\.authSecretArn: a complete Secrets Manager secret ARN/,
    ],
    [
      'a security group name in place of its id',
      withRedis({ securityGroupId: 'bank-redis' }),
      /existing\.redis\.securityGroupId: a security group id/,
    ],
    [
      'a missing cache security group',
      withRedis({ securityGroupId: undefined }),
      /existing\.redis\.securityGroupId/,
    ],
    [
      'subnets that do not match the zones',
      { existing: { ...existing, subnetIds: [existing.subnetIds[0]] } },
      /existing\.subnetIds: one subnet per zone/,
    ],
    [
      'an unknown key (a typo)',
      { existing: { ...existing, vpcID: 'vpc-0a1b2c3d4e5f60718' } },
      /existing: Unrecognized key/,
    ],
  ])('%s', (_name, context, error) => {
    expect(() => synthApp(context)).toThrow(error);
  });

  it('accepts the settings as JSON text, as `cdk deploy -c existing=…` passes them', () => {
    const { stacks } = synthApp({ existing: JSON.stringify(existing) });
    expect(stacks.stage).toBe('existing');
  });
});
