/**
 * Synthesizes the CDK app as `cdk synth` would (cdk.json's context, plus overrides), for the
 * infra tests. Bundling is off unless asked for: the assertions are on the templates, and one
 * test bundles for real.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { inject } from 'vitest';
import { defineStacks, type SeqguardStacks } from '../../infra/seqguard-app.ts';

export const testEnv = { account: '123456789012', region: 'eu-west-1' } as const;

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

export function synthApp(
  context: Record<string, unknown> = {},
  options: { bundling?: boolean; region?: string } = {},
): { app: App; stacks: SeqguardStacks } {
  const app = new App({
    // Under the run's temp folder, which the global teardown removes.
    outdir: mkdtempSync(join(inject('tempRoot'), 'cdk-')),
    context: {
      ...cdkJson.context,
      ...(options.bundling ? {} : { 'aws:cdk:bundling-stacks': [] }),
      // A deployment must decide who is paged (infra/config.ts); the tests' decision, unless a
      // test makes its own.
      paging: { none: 'infra tests' },
      ...context,
    },
  });
  const stacks = defineStacks(app, {
    ...testEnv,
    ...(options.region ? { region: options.region } : {}),
  });
  return { app, stacks };
}

/** A VPC, MSK cluster and ElastiCache cache of the user's (`-c existing=…`), for the tests. */
export const existingClusters = {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  subnetIds: ['subnet-0a1a1a1a1a1a1a1a1', 'subnet-0b2b2b2b2b2b2b2b2'],
  kafka: {
    clusterArn:
      'arn:aws:kafka:eu-west-1:123456789012:cluster/bank-kafka/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-7',
    bootstrapBrokers:
      'b-1.bankkafka.x1y2z3.c7.kafka.eu-west-1.amazonaws.com:9098,b-2.bankkafka.x1y2z3.c7.kafka.eu-west-1.amazonaws.com:9098',
    securityGroupIds: ['sg-0c0c0c0c0c0c0c0c1'],
    subnetIds: ['subnet-0c3c3c3c3c3c3c3c3', 'subnet-0d4d4d4d4d4d4d4d4'],
  },
  redis: {
    url: 'rediss://clustercfg.bank-state.x1y2z3.euw1.cache.amazonaws.com:6380',
    cluster: true,
    authSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bank/redis-app-AbCdEf',
    authSecretKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
    securityGroupId: 'sg-0e0e0e0e0e0e0e0e1',
  },
} as const;
