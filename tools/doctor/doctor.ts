/**
 * `npm run seqguard -- doctor`: after a deploy, is this deployment able to do its job? It finds
 * the deployment from CloudFormation and runs five read-only checks (each in its own module):
 * somebody is paged, the Kafka triggers run, no alarm is stuck without data, the drift metrics
 * arrive, the functions may read the Redis secret. docs/operations.md, "After a deploy: doctor", says what each
 * means and how to fix it.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { DoctorError } from '../errors.ts';
import { checkAlarmStates } from './alarms.ts';
import { checkDriftMetrics } from './metrics.ts';
import type { CheckId, CheckResult, DoctorClients, DoctorContext } from './model.ts';
import { checkRedisSecret } from './secret.ts';
import { loadDeployment } from './stack.ts';
import { checkAlarmSubscriptions } from './subscriptions.ts';
import { checkKafkaTriggers } from './triggers.ts';

export interface DoctorOptions {
  /** Stack names; none: seqguard-pipeline and, when it exists, seqguard-data. */
  stacks: readonly string[];
  /** The region; undefined: the SDK's own (AWS_REGION, the profile). */
  region?: string | undefined;
}

export interface DoctorReport {
  region: string;
  stacks: string[];
  checks: CheckResult[];
  /** Whether no check failed. */
  ok: boolean;
}

const checks: [CheckId, string, (context: DoctorContext) => Promise<CheckResult>][] = [
  ['alarm-subscriptions', 'Alarm topic subscribers', checkAlarmSubscriptions],
  ['kafka-triggers', 'Kafka triggers', checkKafkaTriggers],
  ['alarm-states', 'Alarm states', checkAlarmStates],
  ['drift-metrics', 'Drift metrics', checkDriftMetrics],
  ['redis-secret', 'Redis secret access', checkRedisSecret],
];

/**
 * The clients, each giving up fast: one attempt with a short connection timeout, so a missing
 * credential or an unreachable endpoint is an error within seconds, not after the SDK's retries.
 */
function clientsFor(region: string | undefined): DoctorClients {
  const config = {
    ...(region ? { region } : {}),
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 },
  };
  return {
    cloudformation: new CloudFormationClient(config),
    sns: new SNSClient(config),
    lambda: new LambdaClient(config),
    cloudwatch: new CloudWatchClient(config),
    iam: new IAMClient(config),
    secrets: new SecretsManagerClient(config),
  };
}

/** A check whose own API call fails is a failure: doctor could not say the deployment is fine. */
async function runCheck(
  context: DoctorContext,
  [id, title, check]: (typeof checks)[number],
): Promise<CheckResult> {
  try {
    return await check(context);
  } catch (error) {
    const { name, message } = error as Error;
    return {
      id,
      title,
      status: 'fail',
      // The first line: SDK messages can go on about how to debug the response.
      detail: `could not check: ${name}: ${message.split('\n')[0]}`,
      hint: 'doctor needs read access to the APIs it calls (docs/operations.md, "After a deploy: doctor", lists them)',
    };
  }
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const clients = clientsFor(options.region);
  try {
    const region = await clients.cloudformation.config.region().catch((error: unknown) => {
      throw new DoctorError(`no AWS region: pass --region or set AWS_REGION`, { cause: error });
    });
    try {
      await clients.cloudformation.config.credentials();
    } catch (error) {
      throw new DoctorError(
        `no AWS credentials found (${(error as Error).message}): set AWS_PROFILE or the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables`,
        { cause: error },
      );
    }
    const deployment = await loadDeployment(clients.cloudformation, region, options.stacks);
    const context: DoctorContext = { deployment, clients, now: new Date() };
    const results = await Promise.all(checks.map((check) => runCheck(context, check)));
    return {
      region,
      stacks: deployment.stacks.map((s) => s.name),
      checks: results,
      ok: results.every((r) => r.status !== 'fail'),
    };
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

const mark = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const;

/** The report for a person: one line a check, the fix under a failure, a tally. */
export function formatDoctorReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.title.length));
  const lines = [`seqguard doctor: ${report.stacks.join(', ')} (${report.region})`];
  for (const check of report.checks) {
    lines.push(`  ${mark[check.status]}  ${check.title.padEnd(width)}  ${check.detail}`);
    if (check.hint) lines.push(`        ${''.padEnd(width)}  fix: ${check.hint}`);
  }
  const count = (status: CheckResult['status']) =>
    report.checks.filter((c) => c.status === status).length;
  lines.push(`${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`);
  return lines.join('\n');
}
