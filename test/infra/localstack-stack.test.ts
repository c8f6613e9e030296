/**
 * The LocalStack stage: the same functions, schedule and alarms, with a broker and a Redis URL
 * of your own, and the Kafka trigger only when LocalStack's paid tier is there to run it.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synthApp } from '../helpers/cdk.ts';

function synthLocal(
  localstack: Record<string, unknown> = {},
  context: Record<string, unknown> = {},
) {
  const { stacks } = synthApp({ stage: 'localstack', localstack, ...context });
  if (stacks.stage !== 'localstack') throw new Error('expected the LocalStack stage');
  return Template.fromStack(stacks.localstack);
}

describe('LocalStack stage', () => {
  it('points the functions at the given Redis URL and brokers, without MSK or ElastiCache', () => {
    const template = synthLocal({
      redisUrl: 'redis://host.docker.internal:6390',
      kafkaBootstrap: 'host.docker.internal:9092',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'seqguard-check-drift',
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: Match.objectLike({
          REDIS_URL: 'redis://host.docker.internal:6390',
          SEQGUARD_KAFKA_BOOTSTRAP: 'host.docker.internal:9092',
          SEQGUARD_CONSUMER_GROUP: 'seqguard-apply-events',
        }),
      },
    });
    expect(template.findResources('AWS::MSK::Cluster')).toEqual({});
    expect(template.findResources('AWS::ElastiCache::ReplicationGroup')).toEqual({});
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
    });
  });

  it('leaves the Kafka trigger out by default (a LocalStack paid-tier feature)', () => {
    expect(synthLocal().findResources('AWS::Lambda::EventSourceMapping')).toEqual({});
  });

  it('adds a self-managed Kafka trigger with the same settings when asked', () => {
    synthLocal({ kafkaTrigger: true }).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SelfManagedEventSource: {
        Endpoints: { KafkaBootstrapServers: ['host.docker.internal:9092'] },
      },
      SelfManagedKafkaEventSourceConfig: {
        ConsumerGroupId: 'seqguard-apply-events.seqguard.events',
      },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      BisectBatchOnFunctionError: true,
      DestinationConfig: { OnFailure: { Destination: 'kafka://seqguard.events.failed' } },
    });
  });

  it('makes the trigger invoke the alias live when apply-events has provisioned concurrency', () => {
    const template = synthLocal({ kafkaTrigger: true }, { provisionedConcurrency: 1 });
    const [aliasId] = Object.keys(
      template.findResources('AWS::Lambda::Alias', {
        Properties: {
          Name: 'live',
          ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 1 },
        },
      }),
    );
    expect(aliasId).toBeDefined();
    const [mapping] = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
    // CDK's `<function>:<alias>`, cut out of the alias's ARN.
    expect(JSON.stringify(mapping?.Properties.FunctionName)).toContain(`{"Ref":"${aliasId}"}`);
  });
});
