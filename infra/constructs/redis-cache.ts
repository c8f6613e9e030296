/**
 * ElastiCache for Valkey (or Redis OSS 7+): node-based in cluster mode (the default) or
 * ElastiCache Serverless (always cluster mode). TLS is required, data is encrypted at rest with
 * the stack's key, and clients authenticate as an RBAC user whose password lives in Secrets
 * Manager only; the `default` user is switched off.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { appAccessString, redisUserName } from '../../core/index.ts';
import { acknowledge } from '../nag.ts';
import { bindRedisClient } from './redis-client.ts';
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
  /** SEQGUARD_KEY_PREFIX of the functions: the app user may touch only these keys. */
  keyPrefix: string;
  retain: boolean;
  /** SEQGUARD_REDIS_WAIT_REPLICAS of the bound functions, when `sinkEnvironment` sets it. */
  waitReplicas?: number;
}

/**
 * ElastiCache does document rotating RBAC passwords with Secrets Manager (ElastiCache guide,
 * "Automatically rotating passwords for users",
 * https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/User-Secrets-Manager.html): the
 * reason below says why this stack does not turn it on, not that it cannot be done.
 */
export const rotationReason =
  'Not rotated automatically yet. ElastiCache supports rotating RBAC user passwords with a Secrets Manager rotation function (ElastiCache guide, "Automatically rotating passwords for users"), but that function needs the ElastiCache API reachable from this VPC (which has no NAT and no ElastiCache endpoint), and the functions read the secret once per cold start, so a rotation that replaces the password at once would fail their reconnects until they restart. Until rotation is wired with a two-password overlap, rotate by hand (docs/deploying.md, "Rotating the Redis password"): add a second password to the user, update the secret, let the functions cold-start, remove the old password.';

/** Where the cache goes and who may use it: what both kinds of cache are built with. */
interface CachePlacement {
  users: elasticache.CfnUserGroup;
  port: number;
  subnets: ec2.SelectedSubnets;
  removal: RemovalPolicy;
}

/** The configuration endpoint clients connect to, as deploy-time tokens. */
interface CacheEndpoint {
  address: string;
  port: string;
}

export class RedisCache extends Construct implements ec2.IConnectable {
  readonly connections: ec2.Connections;
  readonly securityGroup: ec2.SecurityGroup;
  /** `{"username", "password"}` of the RBAC user. */
  readonly secret: secretsmanager.Secret;
  readonly endpointAddress: string;
  readonly endpointPort: string;
  /**
   * Replicas each write of the bound functions waits for (SEQGUARD_REDIS_WAIT_REPLICAS), so a
   * failover to a replica loses nothing they reported as done (https://redis.io/docs/latest/commands/wait/).
   * One when the shards have replicas: the failover promotes the most up-to-date replica, and
   * waiting for all of them would stop the writes while any one is replaced. None on Serverless:
   * it shows clients one virtual node owning every slot and runs its replication out of their
   * sight (ElastiCache guide, "Valkey and Redis OSS configuration and limits", `cluster-enabled`,
   * https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/RedisConfiguration.html), and does
   * not document what WAIT would count there. Lost writes are then detected and replayed
   * (RedisBehindKafka).
   */
  readonly waitReplicas: number;
  private readonly secretsEndpoint: ec2.IConnectable;
  private readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: RedisCacheProps) {
    super(scope, id);
    this.secretsEndpoint = props.secretsEndpoint;
    this.key = props.key;
    this.waitReplicas =
      props.waitReplicas ?? (props.mode === 'cluster' && props.replicasPerShard > 0 ? 1 : 0);
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
    this.secret = this.appUserSecret(props, removal);
    const users = this.userGroup(props, removal);
    const endpoint =
      props.mode === 'cluster'
        ? this.replicationGroup(props, { users, port, subnets, removal })
        : this.serverlessCache(props, { users, port, subnets, removal });
    this.endpointAddress = endpoint.address;
    this.endpointPort = endpoint.port;
  }

  /** The app user's `{"username", "password"}`, generated into Secrets Manager. */
  private appUserSecret(props: RedisCacheProps, removal: RemovalPolicy): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, 'AuthSecret', {
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
    acknowledge(secret, rotationReason, 'AwsSolutions-SMG4');
    return secret;
  }

  /** The RBAC user group: the app user, and a `default` user that is switched off. */
  private userGroup(props: RedisCacheProps, removal: RemovalPolicy): elasticache.CfnUserGroup {
    const app = new elasticache.CfnUser(this, 'AppUser', {
      engine: props.engine,
      userId: `${props.name}-app`,
      userName: redisUserName,
      accessString: appAccessString(props.keyPrefix),
      authenticationMode: {
        Type: 'password',
        Passwords: [this.secret.secretValueFromJson('password').unsafeUnwrap()],
      },
    });
    // Every user group holds a user named `default` (AWS::ElastiCache::UserGroup, UserIds), and
    // a Valkey user group only users with a password or IAM authentication (ElastiCache guide,
    // "Role-Based Access Control (RBAC)"): this `default` is switched off and has a password
    // nobody is given, so nobody can connect without the app user's credentials.
    const defaultSecret = new secretsmanager.Secret(this, 'DisabledDefaultUserSecret', {
      description: `Password of the switched-off default Redis user of ${props.name} (never used)`,
      encryptionKey: props.key,
      removalPolicy: removal,
      generateSecretString: { excludePunctuation: true, passwordLength: 64 },
    });
    acknowledge(
      defaultSecret,
      'The password of a user that is switched off (access string "off"): no client ever authenticates with it, so there is nothing to rotate.',
      'AwsSolutions-SMG4',
    );
    const disabledDefault = new elasticache.CfnUser(this, 'DisabledDefaultUser', {
      engine: props.engine,
      userId: `${props.name}-default-off`,
      userName: 'default',
      accessString: 'off -@all',
      authenticationMode: {
        Type: 'password',
        Passwords: [defaultSecret.secretValue.unsafeUnwrap()],
      },
    });
    const users = new elasticache.CfnUserGroup(this, 'UserGroup', {
      engine: props.engine,
      userGroupId: `${props.name}-users`,
      userIds: [app.userId, disabledDefault.userId],
    });
    users.addResourceDependency(app);
    users.addResourceDependency(disabledDefault);
    return users;
  }

  /** Node-based, in cluster mode, with no eviction of the guard's cursors. */
  private replicationGroup(props: RedisCacheProps, placement: CachePlacement): CacheEndpoint {
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
      subnetIds: placement.subnets.subnetIds,
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
      userGroupIds: [placement.users.userGroupId],
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      port: placement.port,
      snapshotRetentionLimit: 7,
      autoMinorVersionUpgrade: true,
    });
    group.addResourceDependency(placement.users);
    group.applyRemovalPolicy(placement.removal);
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
    return {
      address: group.attrConfigurationEndPointAddress,
      port: group.attrConfigurationEndPointPort,
    };
  }

  /** ElastiCache Serverless: always cluster mode, within its usage limits. */
  private serverlessCache(props: RedisCacheProps, placement: CachePlacement): CacheEndpoint {
    const cache = new elasticache.CfnServerlessCache(this, 'ServerlessCache', {
      serverlessCacheName: props.name,
      description: `seqguard state (${props.engine} serverless)`,
      engine: props.engine,
      majorEngineVersion: props.engineVersion.split('.')[0],
      kmsKeyId: props.key.keyArn,
      userGroupId: placement.users.userGroupId,
      securityGroupIds: [this.securityGroup.securityGroupId],
      subnetIds: placement.subnets.subnetIds,
      snapshotRetentionLimit: 7,
      cacheUsageLimits: {
        dataStorage: { maximum: props.serverlessMaxDataGiB, unit: 'GB' },
        ecpuPerSecond: { maximum: props.serverlessMaxEcpuPerSecond },
      },
    });
    cache.addResourceDependency(placement.users);
    cache.applyRemovalPolicy(placement.removal);
    return { address: cache.attrEndpointAddress, port: cache.attrEndpointPort };
  }

  /** The `rediss://` URL of the cluster's configuration endpoint (no credentials in it). */
  get url(): string {
    return `rediss://${this.endpointAddress}:${this.endpointPort}`;
  }

  /** Makes a function a client of this cache (redis-client.ts). */
  bindClient(fn: SeqguardFunction): void {
    bindRedisClient(fn, {
      url: this.url,
      cluster: true,
      secretArn: this.secret.secretArn,
      secretKeyArn: this.key.keyArn,
      cache: this,
      port: this.connections.defaultPort as ec2.Port,
      secretsManager: this.secretsEndpoint,
      waitReplicas: this.waitReplicas,
    });
  }
}
