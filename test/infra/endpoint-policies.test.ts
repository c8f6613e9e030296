/**
 * The interface endpoints' policies. Without one, an endpoint allows every principal every action
 * of its service (VPC User Guide, "Control access to VPC endpoints using endpoint policies",
 * https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html); each of ours
 * allows what the deployment calls through it, and what it calls must still go through:
 * - the functions read the Redis secret with GetSecretValue (core/redis/auth-secret.ts;
 *   Secrets Manager, "Using an AWS Secrets Manager VPC endpoint",
 *   https://docs.aws.amazon.com/secretsmanager/latest/userguide/vpc-endpoint-overview.html);
 * - the Kafka trigger's pollers invoke apply-events through the Lambda endpoint and assume its
 *   execution role through the STS endpoint (Lambda developer guide, "Configuring your Amazon MSK
 *   cluster and Amazon VPC network for Lambda",
 *   https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html; IAM User Guide,
 *   "Control access to AWS STS with VPC endpoint policies",
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sts_vpc_endpoint_policies.html).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synthApp } from '../helpers/cdk.ts';
import { createOnlyProperties } from '../helpers/resource-schemas.ts';
import { TemplateText } from '../helpers/template.ts';

interface Statement {
  Effect: string;
  Principal: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

function synth(context: Record<string, unknown> = {}) {
  const { stacks } = synthApp(context);
  if (stacks.stage !== 'aws') throw new Error('expected the AWS stage');
  const data = Template.fromStack(stacks.data);
  const pipeline = Template.fromStack(stacks.pipeline);
  return { data, pipeline, text: new TemplateText([data, pipeline]) };
}

const { data, pipeline, text } = synth();

/** The policy statements of the endpoint of a service (`secretsmanager`, `lambda`, `sts`). */
function endpointStatements(template: Template, service: string): Statement[] {
  const endpoints = Object.values(
    template.findResources('AWS::EC2::VPCEndpoint', {
      Properties: { ServiceName: `com.amazonaws.eu-west-1.${service}` },
    }),
  );
  expect(endpoints).toHaveLength(1);
  const document = endpoints[0]?.Properties.PolicyDocument as { Statement: Statement[] };
  expect(
    document,
    `${service} endpoint without a policy: the default allows everything`,
  ).toBeDefined();
  return document.Statement;
}

const actionsOf = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat());

describe('the interface endpoint policies', () => {
  it('replace the default full access on every endpoint: no action or resource "*", allows only', () => {
    for (const service of ['secretsmanager', 'lambda', 'sts']) {
      const statements = endpointStatements(data, service);
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        expect([statement.Action].flat()).not.toContain('*');
        expect(statement.Resource).not.toBe('*');
      }
    }
  });

  it('Secrets Manager: GetSecretValue of the secret the functions are given, by principals of this account', () => {
    const statements = endpointStatements(data, 'secretsmanager');
    expect(actionsOf(statements)).toEqual(['secretsmanager:GetSecretValue']);
    expect(statements[0]?.Condition).toEqual({
      StringEquals: { 'aws:PrincipalAccount': '123456789012' },
    });
    // The very secret each function reads (its SEQGUARD_REDIS_AUTH_SECRET_ARN).
    const allowed = text.render(statements[0]?.Resource);
    const functions = Object.values(pipeline.findResources('AWS::Lambda::Function'));
    const secrets = functions
      .map((fn) => fn.Properties.Environment?.Variables?.SEQGUARD_REDIS_AUTH_SECRET_ARN)
      .filter((arn) => arn !== undefined)
      .map((arn) => text.render(arn));
    expect(secrets).toHaveLength(3);
    for (const secret of secrets) expect(secret).toBe(allowed);
  });

  it.each([
    ['the function', {}],
    ['its alias live (provisioned concurrency)', { provisionedConcurrency: 1 }],
  ])('Lambda: InvokeFunction of what the trigger invokes, %s, and nothing else', (_, context) => {
    const deployment = synth(context);
    const statements = endpointStatements(deployment.data, 'lambda');
    expect(actionsOf(statements)).toEqual(['lambda:InvokeFunction']);
    const allowed = [statements[0]?.Resource].flat() as string[];
    const functionArn = 'arn:aws:lambda:eu-west-1:123456789012:function:seqguard-apply-events';
    expect(allowed).toEqual([functionArn, `${functionArn}:*`]);
    // The mappings invoke seqguard-apply-events, or an alias of it (`<function ARN>:live`).
    deployment.pipeline.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'seqguard-apply-events',
    });
    const mappings = Object.values(
      deployment.pipeline.findResources('AWS::Lambda::EventSourceMapping'),
    );
    expect(mappings.length).toBeGreaterThan(0);
    for (const mapping of mappings) {
      const target = deployment.text.render(mapping.Properties.FunctionName);
      expect(target).toMatch(
        'provisionedConcurrency' in context
          ? /^\{PipelineApplyEventsLive\}$/
          : /^\{PipelineApplyEventsFunction\}$/,
      );
    }
  });

  it("STS: AssumeRole, of this account's roles only (the pollers assume apply-events' execution role)", () => {
    const statements = endpointStatements(data, 'sts');
    expect(actionsOf(statements)).toEqual(['sts:AssumeRole']);
    expect(statements[0]?.Resource).toBe('arn:aws:iam::123456789012:role/*');
    // That role is of this account: the mappings' function runs with a role of the same stacks.
    const [applyEvents] = Object.values(
      pipeline.findResources('AWS::Lambda::Function', {
        Properties: { FunctionName: 'seqguard-apply-events' },
      }),
    );
    expect(text.render(applyEvents?.Properties.Role)).toMatch(
      /^\{PipelineApplyEventsRole.*\.Arn\}$/,
    );
  });

  it('change in place on a deployed stack: PolicyDocument is not create-only (AWS::EC2::VPCEndpoint resource provider schema)', () => {
    expect(createOnlyProperties('AWS::EC2::VPCEndpoint')).not.toContain('PolicyDocument');
  });
});
