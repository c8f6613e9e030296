/**
 * The LocalStack stage (`cdklocal deploy`): the same functions, schedule, alarms and dashboard,
 * with a Kafka broker and a Redis of your own in place of MSK and ElastiCache, which are
 * LocalStack paid-tier services. The Kafka trigger is a self-managed Kafka event source mapping,
 * itself a paid-tier LocalStack feature: it is left out unless `localstack.kafkaTrigger` is on.
 * No VPC, no TLS, no secret: this stage is for a laptop, never for real data.
 */
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { triggerGroups } from '../../core/index.ts';
import type { SeqguardConfig } from '../config.ts';
import { triggerId } from '../constructs/msk-access.ts';
import { Pipeline } from '../constructs/pipeline.ts';

export interface LocalStackStackProps extends StackProps {
  config: SeqguardConfig;
}

export class LocalStackStack extends Stack {
  readonly pipeline: Pipeline;
  readonly kafkaTriggers: lambda.EventSourceMapping[] = [];

  constructor(scope: Construct, id: string, props: LocalStackStackProps) {
    super(scope, id, props);
    const { config } = props;
    const local = config.localstack;
    const brokers = local.kafkaBootstrap.split(',').map((b) => b.trim());
    const es = config.eventSource;
    this.pipeline = new Pipeline(this, 'Pipeline', {
      config,
      bind: {
        redisClient: (fn) => {
          fn.addEnvironment('REDIS_URL', local.redisUrl);
          fn.addEnvironment('SEQGUARD_REDIS_CLUSTER', 'false');
        },
        kafkaTrigger: (fn, target) => {
          if (!local.kafkaTrigger) return;
          // Named and grouped by topic as on MSK (MskAccess.bindEventSource).
          for (const { topic, groupId } of triggerGroups(config.consumerGroupId, config.topics)) {
            this.kafkaTriggers.push(
              new lambda.EventSourceMapping(fn, triggerId(topic), {
                target,
                kafkaBootstrapServers: brokers,
                kafkaTopic: topic,
                kafkaConsumerGroupId: groupId,
                startingPosition: lambda.StartingPosition[es.startingPosition],
                batchSize: es.batchSize,
                maxBatchingWindow: Duration.seconds(es.maxBatchingWindowSeconds),
                reportBatchItemFailures: true,
                retryAttempts: es.retryAttempts,
                maxRecordAge: Duration.seconds(es.maxRecordAgeSeconds),
                bisectBatchOnError: true,
                onFailure: new KafkaDlq(config.deadLetterTopic),
                provisionedPollerConfig: {
                  minimumPollers: es.minimumPollers,
                  maximumPollers: es.maximumPollers,
                },
              }),
            );
          }
        },
        kafkaReader: (fn) => {
          fn.addEnvironment('SEQGUARD_KAFKA_BOOTSTRAP', brokers.join(','));
          fn.addEnvironment('SEQGUARD_TOPICS', config.topics.join(','));
          fn.addEnvironment('SEQGUARD_CONSUMER_GROUP', config.consumerGroupId);
        },
      },
    });
  }
}
