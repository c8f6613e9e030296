/**
 * The stateful stack: encryption in transit and at rest, authentication, and a network with no
 * way to the internet (one synth, cdk.json's settings).
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synthApp } from '../helpers/cdk.ts';
import { TemplateText } from '../helpers/template.ts';

function synthData(context: Record<string, unknown> = {}) {
  const { stacks } = synthApp(context);
  if (stacks.stage !== 'aws') throw new Error('expected the AWS stage');
  const data = Template.fromStack(stacks.data);
  return { data, text: new TemplateText([data]) };
}

const { data, text } = synthData();
const keyArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataKey'), 'Arn'] };

describe('MSK', () => {
  it('accepts IAM-authenticated TLS clients only, encrypts at rest with the data key, logs brokers', () => {
    data.hasResourceProperties('AWS::MSK::Cluster', {
      ClusterName: 'seqguard-kafka',
      KafkaVersion: '3.8.x',
      NumberOfBrokerNodes: 3,
      ClientAuthentication: {
        Sasl: { Iam: { Enabled: true } },
        Unauthenticated: { Enabled: false },
      },
      EncryptionInfo: {
        EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true },
        EncryptionAtRest: { DataVolumeKMSKeyId: keyArn },
      },
      BrokerNodeGroupInfo: Match.objectLike({
        ConnectivityInfo: { PublicAccess: { Type: 'DISABLED' } },
      }),
      LoggingInfo: { BrokerLogs: { CloudWatchLogs: Match.objectLike({ Enabled: true }) } },
    });
    data.hasResourceProperties('AWS::MSK::Configuration', {
      ServerProperties: Match.stringLikeRegexp(
        'auto.create.topics.enable=false\ndefault.replication.factor=3\nmin.insync.replicas=2',
      ),
    });
  });

  it('creates the topics and the dead-letter topic, replicated three times', () => {
    for (const name of ['seqguard.events', 'seqguard.events.failed']) {
      data.hasResourceProperties('AWS::MSK::Topic', {
        TopicName: name,
        PartitionCount: 6,
        ReplicationFactor: 3,
        ClusterArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^KafkaCluster'), 'Arn'] },
      });
    }
  });

  it('MSK Serverless, as an option, is IAM-only in the private subnets', () => {
    const serverless = synthData({ kafka: { mode: 'serverless' } });
    serverless.data.hasResourceProperties('AWS::MSK::ServerlessCluster', {
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
      VpcConfigs: [Match.objectLike({ SubnetIds: Match.anyValue() })],
    });
    expect(serverless.data.findResources('AWS::MSK::Cluster')).toEqual({});
  });

  it('looks the IAM bootstrap brokers up at deploy time, allowed on this cluster only', () => {
    const statements = text
      .iamStatements()
      .filter((s) => s.actions.includes('kafka:GetBootstrapBrokers'));
    expect(statements).toEqual([
      expect.objectContaining({
        actions: ['kafka:GetBootstrapBrokers'],
        resources: ['{KafkaCluster.Arn}'],
      }),
    ]);
  });
});

describe('ElastiCache', () => {
  it('is Valkey in cluster mode, TLS required, encrypted at rest, RBAC only, no eviction', () => {
    data.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'valkey',
      EngineVersion: '8.0',
      ClusterMode: 'enabled',
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AtRestEncryptionEnabled: true,
      KmsKeyId: keyArn,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      UserGroupIds: [Match.anyValue()],
    });
    data.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
      CacheParameterGroupFamily: 'valkey8',
      Properties: { 'cluster-enabled': 'yes', 'maxmemory-policy': 'noeviction' },
    });
  });

  it("authenticates the app user with the secret's password and switches the default user off", () => {
    data.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: 'seqguard',
      AccessString:
        'on ~{sg:* ~{sg~* -@all +@read +@write +@scripting +@transaction +@connection -@dangerous -script|flush -script|kill -script|debug -function -fcall -fcall_ro +info +time +cluster|info +cluster|slots +cluster|shards',
      AuthenticationMode: {
        Type: 'password',
        Passwords: [Match.objectLike({ 'Fn::Join': Match.anyValue() })],
      },
    });
    const [appUser] = Object.values(
      data.findResources('AWS::ElastiCache::User', { Properties: { UserName: 'seqguard' } }),
    );
    expect(text.render(appUser?.Properties.AuthenticationMode.Passwords[0])).toBe(
      '{{resolve:secretsmanager:{RedisAuthSecret}:SecretString:password::}}',
    );
    data.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: 'default',
      AccessString: 'off -@all',
    });
    data.hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: keyArn,
      GenerateSecretString: Match.objectLike({
        GenerateStringKey: 'password',
        PasswordLength: 64,
        SecretStringTemplate: '{"username":"seqguard"}',
      }),
    });
  });

  it('ElastiCache Serverless, as an option, is encrypted, RBAC-only and capped', () => {
    const serverless = synthData({ redis: { mode: 'serverless' } });
    serverless.data.hasResourceProperties('AWS::ElastiCache::ServerlessCache', {
      Engine: 'valkey',
      MajorEngineVersion: '8',
      KmsKeyId: keyArn,
      UserGroupId: Match.anyValue(),
      CacheUsageLimits: {
        DataStorage: { Maximum: 10, Unit: 'GB' },
        ECPUPerSecond: { Maximum: 100_000 },
      },
    });
  });
});

describe('network and keys', () => {
  it('has private subnets only: no internet or NAT gateway, all flows logged', () => {
    expect(data.findResources('AWS::EC2::InternetGateway')).toEqual({});
    expect(data.findResources('AWS::EC2::NatGateway')).toEqual({});
    for (const subnet of Object.values(data.findResources('AWS::EC2::Subnet'))) {
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    }
    data.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL' });
  });

  it.each(['secretsmanager', 'lambda', 'sts'])(
    'has a private %s endpoint, closed by default',
    (service) => {
      data.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        ServiceName: `com.amazonaws.eu-west-1.${service}`,
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
      });
    },
  );

  it('rotates the keys, and keeps the data on `cdk destroy` unless retainData is off', () => {
    data.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    data.hasResource('AWS::MSK::Cluster', { DeletionPolicy: 'Retain' });
    data.hasResource('AWS::ElastiCache::ReplicationGroup', { DeletionPolicy: 'Retain' });
    data.hasResource('AWS::EC2::VPC', { DeletionPolicy: 'Retain' });
    data.hasResource('AWS::ElastiCache::UserGroup', { DeletionPolicy: 'Retain' });
    const sandbox = synthData({ retainData: false });
    sandbox.data.hasResource('AWS::MSK::Cluster', { DeletionPolicy: 'Delete' });
    sandbox.data.hasResource('AWS::ElastiCache::ReplicationGroup', { DeletionPolicy: 'Delete' });
  });
});
