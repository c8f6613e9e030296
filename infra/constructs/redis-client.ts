/**
 * Makes a function a Redis client, whoever created the cache: its Redis environment (the
 * secret's ARN, never the password), read access to that one secret (and decryption through
 * Secrets Manager only), and the network paths to the cache and to Secrets Manager. The data
 * stack's cache (`RedisCache`) and a cache the user brings (`ExistingClusters`) both bind here.
 */
import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { SeqguardFunction } from './seqguard-function.ts';

export interface RedisClientBinding {
  /** `rediss://host:port` (no credentials in it). */
  url: string;
  /** Cluster mode (ElastiCache Serverless always is). */
  cluster: boolean;
  /** `{"username", "password"}` of the RBAC user. */
  secretArn: string;
  /** The customer managed KMS key of the secret; none for the AWS managed key. */
  secretKeyArn?: string | undefined;
  /** The cache's side of the network, let in on `port`. */
  cache: ec2.IConnectable;
  port: ec2.Port;
  /**
   * Secrets Manager: an interface endpoint to open, or `vpcRoute` when the VPC is not ours and
   * its own endpoint or NAT gateway, at an address this stack does not know, carries HTTPS.
   */
  secretsManager: ec2.IConnectable | 'vpcRoute';
  /** SEQGUARD_REDIS_WAIT_REPLICAS, when the binding knows the cache's replicas. */
  waitReplicas?: number;
}

export function bindRedisClient(fn: SeqguardFunction, binding: RedisClientBinding): void {
  fn.addEnvironment('REDIS_URL', binding.url);
  fn.addEnvironment('SEQGUARD_REDIS_CLUSTER', String(binding.cluster));
  fn.addEnvironment('SEQGUARD_REDIS_AUTH_SECRET_ARN', binding.secretArn);
  if (binding.waitReplicas !== undefined)
    fn.addEnvironment('SEQGUARD_REDIS_WAIT_REPLICAS', String(binding.waitReplicas));
  // By the role's policy alone: a grant in the key's policy would make the data stack depend on
  // the function's stack. The key policy delegates to IAM in this account.
  fn.role.addToPolicy(
    new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      resources: [binding.secretArn],
    }),
  );
  if (binding.secretKeyArn) {
    fn.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [binding.secretKeyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${Stack.of(fn).region}.amazonaws.com`,
          },
        },
      }),
    );
  }
  fn.connections.allowTo(binding.cache, binding.port, 'Redis (TLS)');
  if (binding.secretsManager === 'vpcRoute') {
    fn.connections.allowToAnyIpv4(ec2.Port.tcp(443), 'Secrets Manager (HTTPS, by the VPC route)');
  } else {
    fn.connections.allowTo(binding.secretsManager, ec2.Port.tcp(443), 'Secrets Manager (HTTPS)');
  }
}
