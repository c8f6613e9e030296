/**
 * cdk-nag's AwsSolutions pack runs on every stack at synth; a finding nobody acknowledged (with
 * a reason, where the resource is defined) fails the synth. Each configuration is checked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { existingClusters, synthApp } from '../helpers/cdk.ts';

interface ValidationReport {
  pluginReports: { pluginName: string; conclusion: string; violations: { ruleName: string }[] }[];
}

function nagReport(app: ReturnType<typeof synthApp>['app']): ValidationReport {
  let failure: unknown;
  try {
    app.synth();
  } catch (error) {
    failure = error;
  }
  const report = JSON.parse(
    readFileSync(join(app.outdir, 'validation-report.json'), 'utf8'),
  ) as ValidationReport;
  if (failure && report.pluginReports.length === 0) throw failure;
  return report;
}

const unacknowledged = (report: ValidationReport) =>
  report.pluginReports
    .filter((r) => r.pluginName === 'AwsSolutions')
    .flatMap((r) => r.violations.map((v) => v.ruleName));

describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['the default deployment', {}],
    [
      'MSK Serverless and ElastiCache Serverless',
      { kafka: { mode: 'serverless' }, redis: { mode: 'serverless' } },
    ],
    [
      'a sandbox with paging to PagerDuty, e-mail and Slack',
      {
        retainData: false,
        paging: {
          pagerDutyUrl: 'https://events.pagerduty.com/integration/x/enqueue',
          emails: ['oncall@bank.example'],
          slack: { workspaceId: 'T0123', channelId: 'C0456' },
        },
      },
    ],
    [
      'low latency with provisioned concurrency (a version and an alias)',
      { eventSource: { lowLatency: true }, provisionedConcurrency: 2 },
    ],
    ['the LocalStack stage', { stage: 'localstack', localstack: { kafkaTrigger: true } }],
    ['your own VPC, MSK cluster and cache', { existing: existingClusters }],
  ])('reports no unacknowledged finding for %s', (_name, context) => {
    const { app } = synthApp(context);
    expect(unacknowledged(nagReport(app))).toEqual([]);
  });

  it('does fail on a finding nobody acknowledged', () => {
    const { app, stacks } = synthApp();
    if (stacks.stage !== 'aws') throw new Error('expected the AWS stage');
    const role = new iam.Role(Stack.of(stacks.pipeline), 'Careless', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    expect(unacknowledged(nagReport(app))).toEqual(
      expect.arrayContaining(['AwsSolutions-IAM5[Action::s3:*]', 'AwsSolutions-IAM5[Resource::*]']),
    );
  });
});
