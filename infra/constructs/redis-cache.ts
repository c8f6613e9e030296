/**
 * ElastiCache for Valkey (or Redis OSS 7+): node-based in cluster mode (the default) or
 * ElastiCache Serverless (always cluster mode). TLS is required, data is encrypted at rest with
 * the stack's key, and clients authenticate as an RBAC user whose password lives in Secrets
 * Manager only; the `default` user is switched off.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';
import type { SeqguardFunction } from './seqguard-function.ts';

export interface RedisCacheProps {
  name: string;
  mode: 'cluster' | 'serverless';
  engine: 'valkey' | 'redis';
  engineVersion: string;
  nodeType: string;
  shards: number;
  replicasPerShard: number;
  port: number;
  serverlessMaxDataGiB: number;
  serverlessMaxEcpuPerSecond: number;
  vpc: ec2.IVpc;
  key: kms.IKey;
  /** The Secrets Manager endpoint, which the bound functions call at cold start. */
  secretsEndpoint: ec2.IConnectable;
  retain: boolean;
}

/** The RBAC user the functions connect as. */
export const redisUserName = 'seqguard';

export class RedisCache extends Construct implements ec2.IConnectable {
  readonly connections: ec2.Connections;
  readonly securityGroup: ec2.SecurityGroup;
  /** `{"username", "password"}` of the RBAC user. */
  readonly secret: secretsmanager.Secret;
  readonly endpointAddress: string;
  readonly endpointPort: string;
  private readonly secretsEndpoint: ec2.IConnectable;
  private readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: RedisCacheProps) {
    super(scope, id);
    this.secretsEndpoint = props.secretsEndpoint;
    this.key = props.key;
    const removal = props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const port = props.mode === 'serverless' ? 6379 : props.port;
    const subnets = props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `${props.name}: Redis clients (TLS) only`,
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({
      securityGroups: [this.securityGroup],
      defaultPort: ec2.Port.tcp(port),
    });

    this.secret = new secretsmanager.Secret(this, 'AuthSecret', {
      description: `Redis RBAC user of ${props.name}`,
      encryptionKey: props.key,
      removalPolicy: removal,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: redisUserName }),
        generateStringKey: 'password',
        // ElastiCache passwords: 16-128 printable characters; no punctuation keeps them URL-safe.
        excludePunctuation: true,
        passwordLength: 64,
      },
    });
    acknowledge(
      this.secret,
      'Secrets Manager has no managed rotation for ElastiCache RBAC users. Rotate by adding a second password to the user (ElastiCache accepts two), updating the secret, then removing the old password; the functions read the secret at each cold start.',
      'AwsSolutions-SMG4',
    );

    const app = new elasticache.CfnUser(this, 'AppUser', {
      engine: props.engine,
      userId: `${props.name}-app`,
      userName: redisUserName,
      accessString: 'on ~* +@all',
      authenticationMode: {
        Type: 'password',
        Passwords: [this.secret.secretValueFromJson('password').unsafeUnwrap()],
      },
    });
    // ElastiCache needs a user named `default` in every user group: this one is switched off,
    // so nobody can connect without the secret's credentials.
    const disabledDefault = new elasticache.CfnUser(this, 'DisabledDefaultUser', {
      engine: props.engine,
      userId: `${props.name}-default-off`,
      userName: 'default',
      accessString: 'off -@all',
      noPasswordRequired: true,
    });
    const users = new elasticache.CfnUserGroup(this, 'UserGroup', {
      engine: props.engine,
      userGroupId: `${props.name}-users`,
      userIds: [app.userId, disabledDefault.userId],
    });
    users.addResourceDependency(app);
    users.addResourceDependency(disabledDefault);

    if (props.mode === 'cluster') {
      const major = props.engineVersion.split('.')[0];
      const parameters = new elasticache.CfnParameterGroup(this, 'Parameters', {
        cacheParameterGroupFamily: `${props.engine}${major}`,
        description: `${props.name}: cluster mode, and no eviction of the guard's cursors`,
        properties: {
          'cluster-enabled': 'yes',
          // An evicted cursor would let a redelivered event apply twice.
          'maxmemory-policy': 'noeviction',
        },
      });
      const subnetGroup = new elasticache.CfnSubnetGroup(this, 'Subnets', {
        description: `${props.name}: private subnets`,
        subnetIds: subnets.subnetIds,
      });
      const group = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
        replicationGroupId: props.name,
        replicationGroupDescription: `seqguard state (${props.engine} ${props.engineVersion}, cluster mode)`,
        engine: props.engine,
        engineVersion: props.engineVersion,
        cacheNodeType: props.nodeType,
        clusterMode: 'enabled',
        cacheParameterGroupName: parameters.ref,
        numNodeGroups: props.shards,
        replicasPerNodeGroup: props.replicasPerShard,
        automaticFailoverEnabled: true,
        multiAzEnabled: true,
        transitEncryptionEnabled: true,
        transitEncryptionMode: 'required',
        atRestEncryptionEnabled: true,
        kmsKeyId: props.key.keyArn,
        userGroupIds: [users.userGroupId],
        cacheSubnetGroupName: subnetGroup.ref,
        securityGroupIds: [this.securityGroup.securityGroupId],
        port,
        snapshotRetentionLimit: 7,
        autoMinorVersionUpgrade: true,
      });
      group.addResourceDependency(users);
      group.applyRemovalPolicy(removal);
      this.endpointAddress = group.attrConfigurationEndPointAddress;
      this.endpointPort = group.attrConfigurationEndPointPort;
      acknowledge(
        group,
        'cdk-nag looks for an AUTH token; this group authenticates with ElastiCache RBAC instead (stronger): a user group whose only enabled user has a 64-character password from Secrets Manager, and the default user switched off.',
        'AwsSolutions-AEC6',
      );
      acknowledge(
        group,
        'A non-default port is obscurity, not a control: access is limited by security group (bound functions only), TLS is required, and the only enabled user needs the password in Secrets Manager. The port is configurable (redis.port).',
        'AwsSolutions-AEC5',
      );
    } else {
      const cache = new elasticache.CfnServerlessCache(this, 'ServerlessCache', {
        serverlessCacheName: props.name,
        description: `seqguard state (${props.engine} serverless)`,
        engine: props.engine,
        majorEngineVersion: props.engineVersion.split('.')[0],
        kmsKeyId: props.key.keyArn,
        userGroupId: users.userGroupId,
        securityGroupIds: [this.securityGroup.securityGroupId],
        subnetIds: subnets.subnetIds,
        snapshotRetentionLimit: 7,
        cacheUsageLimits: {
          dataStorage: { maximum: props.serverlessMaxDataGiB, unit: 'GB' },
          ecpuPerSecond: { maximum: props.serverlessMaxEcpuPerSecond },
        },
      });
      cache.addResourceDependency(users);
      cache.applyRemovalPolicy(removal);
      this.endpointAddress = cache.attrEndpointAddress;
      this.endpointPort = cache.attrEndpointPort;
    }
  }

  /** The `rediss://` URL of the cluster's configuration endpoint (no credentials in it). */
  get url(): string {
    return `rediss://${this.endpointAddress}:${this.endpointPort}`;
  }

  /**
   * Makes a function a client: its Redis environment (the secret's ARN, never the password),
   * read access to the secret, and the network paths to the cache and to Secrets Manager.
   */
  bindClient(fn: SeqguardFunction): void {
    fn.addEnvironment('REDIS_URL', this.url);
    fn.addEnvironment('SEQGUARD_REDIS_CLUSTER', 'true');
    fn.addEnvironment('SEQGUARD_REDIS_AUTH_SECRET_ARN', this.secret.secretArn);
    // By the role's policy alone: a grant in the key's policy would make this (data) stack
    // depend on the function's stack. The key policy delegates to IAM in this account.
    fn.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        resources: [this.secret.secretArn],
      }),
    );
    fn.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com`,
          },
        },
      }),
    );
    fn.connections.allowTo(this, this.connections.defaultPort as ec2.Port, 'Redis (TLS)');
    fn.connections.allowTo(this.secretsEndpoint, ec2.Port.tcp(443), 'Secrets Manager (HTTPS)');
  }
}
