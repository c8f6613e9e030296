/**
 * What `seqguard doctor` reports: one result per check, pass / fail / skip, with what it saw and,
 * on a failure, the one thing to do about it. The checks read a deployment through the AWS APIs
 * only; they change nothing.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSClient } from '@aws-sdk/client-sns';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export const checkIds = [
  'alarm-subscriptions',
  'kafka-triggers',
  'alarm-states',
  'drift-metrics',
  'redis-secret',
] as const;
export type CheckId = (typeof checkIds)[number];

export interface CheckResult {
  id: CheckId;
  title: string;
  status: CheckStatus;
  /** What the check saw (pass, fail), or why it did not look (skip). */
  detail: string;
  /** On a failure: what to do about it, in one line. */
  hint?: string;
}

/** One resource of a deployed stack, as ListStackResources names it. */
export interface StackResource {
  stack: string;
  logicalId: string;
  type: string;
  physicalId: string;
}

/** The deployed stacks of one seqguard deployment (the pipeline stack, the data stack). */
export interface Deployment {
  region: string;
  stacks: {
    name: string;
    status: string;
    created: Date;
    outputs: Record<string, string>;
  }[];
  resources: StackResource[];
}

export interface DoctorClients {
  cloudformation: CloudFormationClient;
  sns: SNSClient;
  lambda: LambdaClient;
  cloudwatch: CloudWatchClient;
  iam: IAMClient;
  secrets: SecretsManagerClient;
}

export interface DoctorContext {
  deployment: Deployment;
  clients: DoctorClients;
  /** The time the checks judge ages against. */
  now: Date;
}

export function resourcesOfType(deployment: Deployment, type: string): StackResource[] {
  return deployment.resources.filter((r) => r.type === type && r.physicalId !== '');
}

export function pass(id: CheckId, title: string, detail: string): CheckResult {
  return { id, title, status: 'pass', detail };
}

export function fail(id: CheckId, title: string, detail: string, hint: string): CheckResult {
  return { id, title, status: 'fail', detail, hint };
}

export function skip(id: CheckId, title: string, detail: string): CheckResult {
  return { id, title, status: 'skip', detail };
}
