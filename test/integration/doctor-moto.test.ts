/**
 * `npm run seqguard -- doctor` against moto's server (the local AWS API of
 * local/emulators/secrets-server.ts; moto 5.2.5 serves every service it implements on one port)
 * for what the LocalStack stage cannot show (test/integration/localstack-deploy.test.ts runs doctor
 * on that stage): a deployment whose stack holds the functions, with a Kafka trigger Enabled or
 * Disabled, an empty alarm topic with and without the `PagingNone` decision, and the drift metrics
 * missing, then arriving, in the deployment's own namespace. The resources are created through
 * the APIs: the stack through CloudFormation (doctor finds everything from ListStackResources),
 * the trigger, subscription and metrics through Lambda, SNS and CloudWatch.
 *
 * What neither moto nor LocalStack serves, and so is not tested here against a real answer:
 * - moto accepts event source mappings from SQS, Kinesis and DynamoDB only, and reports no
 *   LastProcessingResult; an SQS mapping stands in for the Kafka trigger (doctor lists a
 *   function's mappings whatever their source), and the verdict on a `PROBLEM: …` result is
 *   tested on the values of the Lambda API reference only (test/unit/tools/doctor.test.ts).
 * - moto has no IAM policy simulator (SimulatePrincipalPolicy): the Redis secret check is seen to
 *   fail with "could not check" here, as it would for an operator without
 *   iam:SimulatePrincipalPolicy. LocalStack's simulator matches action and resource as literal
 *   strings (no wildcards, no conditions), and its stage has no function to start from.
 * - moto's GetMetricData matches a query that names dimensions on metric name and dimensions
 *   only, not on its namespace (moto/cloudwatch/models.py, get_metric_data), so a second
 *   deployment's metrics in another namespace cannot be shown not to count here; what is tested is
 *   the namespace doctor asks for, read from the deployment's check-drift function.
 * - moto lists no CloudWatch alarm among a stack's resources (its CloudFormation leaves
 *   AWS::CloudWatch::Alarm and AWS::Scheduler::Schedule unnamed): the alarm check is tested on
 *   LocalStack, whose CloudWatch evaluates alarms.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateEventSourceMappingCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alarmMetrics } from '../../core/index.ts';
import { type SecretsServer, startSecretsServer } from '../../local/emulators/secrets-server.ts';
import { checkOf, runDoctorCli } from '../helpers/doctor.ts';

const region = 'us-east-1';
let moto: SecretsServer;
let clientConfig: {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
};

interface StackOptions {
  secretArn?: string;
  pagingNone?: string;
  /** check-drift's SEQGUARD_METRICS_NAMESPACE, as the stack sets it from the prefix. */
  metricsNamespace?: string;
}

/** A pipeline stack as seqguard names its parts: `<prefix>-apply-events`, `<prefix>-alarms`. */
function pipelineTemplate(prefix: string, options: StackOptions) {
  const role = { 'Fn::GetAtt': ['Role', 'Arn'] };
  const fn = (name: string) => {
    const variables = {
      ...(options.secretArn ? { SEQGUARD_REDIS_AUTH_SECRET_ARN: options.secretArn } : {}),
      ...(options.metricsNamespace ? { SEQGUARD_METRICS_NAMESPACE: options.metricsNamespace } : {}),
    };
    return {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: `${prefix}-${name}`,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: role,
        Code: { ZipFile: 'exports.handler = async () => ({});' },
        ...(Object.keys(variables).length > 0 ? { Environment: { Variables: variables } } : {}),
      },
    };
  };
  return JSON.stringify({
    Resources: {
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: 'lambda.amazonaws.com' },
                Action: 'sts:AssumeRole',
              },
            ],
          },
        },
      },
      ApplyEvents: fn('apply-events'),
      CheckDrift: fn('check-drift'),
      AlarmTopic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: `${prefix}-alarms` } },
    },
    ...(options.pagingNone ? { Outputs: { PagingNone: { Value: options.pagingNone } } } : {}),
  });
}

async function createPipelineStack(
  prefix: string,
  options: StackOptions = {},
): Promise<{ topicArn: string }> {
  const cfn = new CloudFormationClient(clientConfig);
  await cfn.send(
    new CreateStackCommand({
      StackName: `${prefix}-pipeline`,
      TemplateBody: pipelineTemplate(prefix, options),
    }),
  );
  const { Stacks = [] } = await cfn.send(
    new DescribeStacksCommand({ StackName: `${prefix}-pipeline` }),
  );
  cfn.destroy();
  expect(Stacks[0]?.StackStatus).toBe('CREATE_COMPLETE');
  return { topicArn: `arn:aws:sns:${region}:123456789012:${prefix}-alarms` };
}

/** An SQS queue subscribed to the topic: a confirmed subscriber (SNS confirms SQS at once). */
async function subscribeQueue(topicArn: string, name: string): Promise<void> {
  const sqs = new SQSClient(clientConfig);
  const sns = new SNSClient(clientConfig);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sns.send(
    new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }),
  );
  sqs.destroy();
  sns.destroy();
}

/** A trigger of `<prefix>-apply-events`, from an SQS queue (moto's stand-in for Kafka). */
async function addTrigger(prefix: string, enabled: boolean): Promise<void> {
  const sqs = new SQSClient(clientConfig);
  const lambda = new LambdaClient(clientConfig);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-source` }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await lambda.send(
    new CreateEventSourceMappingCommand({
      FunctionName: `${prefix}-apply-events`,
      EventSourceArn: Attributes?.QueueArn,
      Enabled: enabled,
    }),
  );
  sqs.destroy();
  lambda.destroy();
}

/**
 * One run of check-drift, as its EMF lands: every alarm metric, service=check-drift, in the
 * namespace of its deployment.
 */
async function publishDriftMetrics(namespace: string): Promise<void> {
  const cloudwatch = new CloudWatchClient(clientConfig);
  await cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: namespace,
      MetricData: Object.values(alarmMetrics).map((name) => ({
        MetricName: name,
        Dimensions: [{ Name: 'service', Value: 'check-drift' }],
        Value: 0,
        Unit: 'Count',
        Timestamp: new Date(Date.now() - 30_000),
      })),
    }),
  );
  cloudwatch.destroy();
}

beforeAll(async () => {
  moto = await startSecretsServer();
  clientConfig = {
    endpoint: moto.endpoint,
    region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}, 120_000);

afterAll(async () => {
  await moto?.stop();
});

describe('npm run seqguard -- doctor (against moto)', () => {
  it('names a stack that does not exist and exits 1 within seconds', async () => {
    // Act
    const started = Date.now();
    const run = await runDoctorCli(moto.endpoint, ['--stack', 'nobody-pipeline']);

    // Assess
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('stack nobody-pipeline does not exist in us-east-1');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('says it found no AWS credentials and exits 1 within seconds', async () => {
    // Act
    const started = Date.now();
    const run = await runDoctorCli(moto.endpoint, ['--stack', 'healthy-pipeline'], {
      credentials: false,
    });

    // Assess
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^seqguard: no AWS credentials found /);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('fails a deployment that pages nobody, whose trigger is Disabled and whose drift check is silent', async () => {
    // Prepare
    const secretArn = await moto.createRedisAuthSecret({
      username: 'seqguard',
      password: 'p'.repeat(32),
    });
    await createPipelineStack('broken', { secretArn });
    await addTrigger('broken', false);

    // Act
    const run = await runDoctorCli(moto.endpoint, ['--stack', 'broken-pipeline', '--json']);

    // Assess
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.report?.ok).toBe(false);
    expect(checkOf(run.report, 'alarm-subscriptions')).toMatchObject({
      status: 'fail',
      detail: 'broken-alarms has no subscriber: nobody is paged',
      hint: expect.stringContaining('`paging`'),
    });
    expect(checkOf(run.report, 'kafka-triggers')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/ is Disabled: User initiated$/),
    });
    const drift = checkOf(run.report, 'drift-metrics');
    expect(drift.status).toBe('fail');
    for (const name of Object.values(alarmMetrics)) expect(drift.detail).toContain(name);
    // Its check-drift has no SEQGUARD_METRICS_NAMESPACE (deployed before it): the default.
    expect(drift.detail).toContain('(namespace seqguard, service=check-drift)');
    // moto has no SimulatePrincipalPolicy: the check says it could not look, and fails.
    expect(checkOf(run.report, 'redis-secret')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^could not check: /),
    });
    expect(checkOf(run.report, 'alarm-states').status).toBe('skip');
  }, 60_000);

  // Before any test publishes drift metrics: moto's GetMetricData matches a query with
  // dimensions on name and dimensions only, whatever its namespace (see the header).
  it('asks for the drift metrics in the namespace its check-drift publishes to, its prefix', async () => {
    // Prepare: deployment shop, whose check-drift publishes in shop, has not run yet.
    await createPipelineStack('shop', { metricsNamespace: 'shop' });

    // Act
    const before = await runDoctorCli(moto.endpoint, ['--stack', 'shop-pipeline', '--json']);
    await publishDriftMetrics('shop');
    const after = await runDoctorCli(moto.endpoint, ['--stack', 'shop-pipeline', '--json']);

    // Assess
    expect(checkOf(before.report, 'drift-metrics')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('(namespace shop, service=check-drift)'),
    });
    expect(checkOf(after.report, 'drift-metrics').status).toBe('pass');
  }, 60_000);

  it('passes a deployment with a confirmed subscriber, an Enabled trigger and drift metrics arriving', async () => {
    // Prepare
    const { topicArn } = await createPipelineStack('healthy', { metricsNamespace: 'healthy' });
    await subscribeQueue(topicArn, 'healthy-pages');
    await addTrigger('healthy', true);
    await publishDriftMetrics('healthy');

    // Act
    const run = await runDoctorCli(moto.endpoint, ['--stack', 'healthy-pipeline', '--json']);
    const human = await runDoctorCli(moto.endpoint, ['--stack', 'healthy-pipeline']);

    // Assess
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(checkOf(run.report, 'alarm-subscriptions')).toMatchObject({
      status: 'pass',
      detail: 'healthy-alarms: 1 confirmed (sqs)',
    });
    expect(checkOf(run.report, 'kafka-triggers')).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('Enabled, not polled yet'),
    });
    expect(checkOf(run.report, 'drift-metrics').status).toBe('pass');
    expect(checkOf(run.report, 'redis-secret')).toMatchObject({
      status: 'skip',
      detail: expect.stringContaining('SEQGUARD_REDIS_AUTH_SECRET_ARN'),
    });
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/^seqguard doctor: healthy-pipeline \(us-east-1\)$/m);
    expect(human.stdout).toMatch(/^ {2}PASS {2}Alarm topic subscribers/m);
    expect(human.stdout).toMatch(/^3 passed, 0 failed, 2 skipped$/m);
  }, 60_000);

  it('takes an empty alarm topic for the decision the stack states in PagingNone', async () => {
    // Prepare
    await createPipelineStack('quiet', { pagingNone: 'a sandbox nobody watches' });

    // Act
    const run = await runDoctorCli(moto.endpoint, ['--stack', 'quiet-pipeline', '--json']);

    // Assess
    expect(checkOf(run.report, 'alarm-subscriptions')).toMatchObject({
      status: 'skip',
      detail: 'paging is "none" by decision: a sandbox nobody watches',
    });
  }, 60_000);
});
