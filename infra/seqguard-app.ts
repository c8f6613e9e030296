/**
 * The stacks of a seqguard deployment, for `infra/app.ts` and for the tests. Every stack is
 * checked by cdk-nag's AwsSolutions pack; a finding is an error unless suppressed, with its
 * reason, where the resource is defined.
 */
import { type App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  DataStack,
  LocalStackStack,
  loadConfig,
  PipelineStack,
  type SeqguardConfig,
} from './index.ts';

export type SeqguardStacks =
  | { stage: 'aws'; config: SeqguardConfig; data: DataStack; pipeline: PipelineStack }
  | { stage: 'existing'; config: SeqguardConfig; pipeline: PipelineStack }
  | { stage: 'localstack'; config: SeqguardConfig; localstack: LocalStackStack };

/**
 * The account and region `cdk` found credentials for; without any (a fresh clone, CI), fixed
 * placeholders, so `cdk synth` works offline. A deployment always has real ones.
 */
export function environmentOf(env: Record<string, string | undefined>): Required<Environment> {
  return {
    account: env.CDK_DEFAULT_ACCOUNT ?? '111111111111',
    region: env.CDK_DEFAULT_REGION ?? env.AWS_REGION ?? 'eu-west-1',
  };
}

export function defineStacks(
  app: App,
  env: Required<Environment> = environmentOf(process.env),
): SeqguardStacks {
  const stage = app.node.tryGetContext('stage') ?? 'aws';
  // The LocalStack stage is a laptop's: nobody to page unless its context says otherwise.
  const config = loadConfig(
    app.node,
    stage === 'localstack' ? { paging: { none: 'the LocalStack stage, on a laptop' } } : {},
  );
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const description = 'seqguard: exactly-once effects of Kafka events on Redis';
  if (stage === 'localstack') {
    const localstack = new LocalStackStack(app, `${config.prefix}-localstack`, {
      config,
      // LocalStack's fixed account; the region is yours.
      env: { account: '000000000000', region: env.region },
      description: `${description} (LocalStack stage)`,
    });
    return { stage, config, localstack };
  }
  if (stage !== 'aws') throw new Error(`stage: "aws" (default) or "localstack", not "${stage}"`);
  if (config.existing) {
    // Bring your own clusters: no data stack; the pipeline binds to the user's VPC, MSK cluster
    // and cache.
    const pipeline = new PipelineStack(app, `${config.prefix}-pipeline`, {
      config,
      env,
      description: `${description} (functions, triggers, alarms; your own clusters)`,
    });
    return { stage: 'existing', config, pipeline };
  }
  const data = new DataStack(app, `${config.prefix}-data`, {
    config,
    env,
    description: `${description} (brokers, cache, network)`,
  });
  const pipeline = new PipelineStack(app, `${config.prefix}-pipeline`, {
    config,
    data,
    env,
    description: `${description} (functions, triggers, alarms)`,
  });
  return { stage, config, data, pipeline };
}
