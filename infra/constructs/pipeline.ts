/**
 * The three functions and what drives them: `apply-events` on the Kafka trigger (through its
 * alias `live` when it has provisioned concurrency), `check-drift` every minute from
 * EventBridge Scheduler, `replay` on demand, and the alarms and dashboard.
 * Where Kafka and Redis are (MSK and ElastiCache, or LocalStack's stand-ins) comes in through
 * the bind callbacks, so both stages build the same pipeline.
 */
import { Annotations, type CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { functionMemoryMiB } from '../../core/index.ts';
import type { SeqguardConfig } from '../config.ts';
import { acknowledge } from '../nag.ts';
import { Monitoring, metricsNamespaceOf, type WatchedData } from './monitoring.ts';
import {
  SeqguardFunction,
  type SeqguardFunctionName,
  type SeqguardHandlerEntries,
} from './seqguard-function.ts';

export interface PipelineBindings {
  /** Redis environment, credentials and network path. */
  redisClient(fn: SeqguardFunction): void;
  /**
   * The Kafka trigger of apply-events (event source mapping) and its permissions. The mapping
   * invokes `target`: the function itself, or its alias `live` when it has provisioned
   * concurrency (`Pipeline.applyEventsAlias`).
   */
  kafkaTrigger(fn: SeqguardFunction, target: lambda.IFunction): void;
  /** Kafka access of check-drift and replay: offsets, the group's commits, reading records. */
  kafkaReader(fn: SeqguardFunction): void;
}

export interface PipelineProps {
  config: SeqguardConfig;
  vpc?: ec2.IVpc;
  bind: PipelineBindings;
  /** The data services to watch, when the deployment created them. */
  watch?: WatchedData;
  /** Handler modules of your own, by function (with your mutations). */
  handlers?: SeqguardHandlerEntries;
}

/** The alias of apply-events the trigger invokes when it has provisioned concurrency. */
const applyEventsAliasName = 'live';

/**
 * Concurrent invocations one poller of a Kafka event source mapping supports (Lambda developer
 * guide, "Low latency processing for Kafka event sources", lowLatencyGuide).
 */
const invocationsPerPoller = 5;

export class Pipeline extends Construct {
  readonly applyEvents: SeqguardFunction;
  /**
   * apply-events' alias `live`, on its current version, with the provisioned concurrency of
   * `config.provisionedConcurrency`; absent when that is 0.
   */
  readonly applyEventsAlias: lambda.Alias | undefined;
  readonly checkDrift: SeqguardFunction;
  readonly replay: SeqguardFunction;
  readonly schedule: scheduler.Schedule;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const { config } = props;
    const fn = (
      construct: string,
      name: SeqguardFunctionName,
      description: string,
      memorySize: number,
      timeout: Duration,
    ) =>
      new SeqguardFunction(this, construct, {
        name,
        prefix: config.prefix,
        description,
        memorySize,
        timeout,
        logRetentionDays: config.logRetentionDays,
        retainLogs: config.retainData,
        ...(props.vpc ? { vpc: props.vpc } : {}),
        environment: config.sinkEnvironment,
        ...(props.handlers?.[name] ? { entry: props.handlers[name] } : {}),
      });

    this.applyEvents = fn(
      'ApplyEvents',
      'apply-events',
      'Applies Kafka batches to Redis exactly once through the Lua sequence guard',
      functionMemoryMiB['apply-events'],
      Duration.minutes(1),
    );
    // Under a minute, so a run ends before the next one starts.
    this.checkDrift = fn(
      'CheckDrift',
      'check-drift',
      'Compares Kafka with Redis every minute, publishes drift metrics, replays what Redis lost',
      functionMemoryMiB['check-drift'],
      Duration.seconds(55),
    );
    this.replay = fn(
      'Replay',
      'replay',
      'Applies a Kafka offset range again through the guard (on demand)',
      functionMemoryMiB.replay,
      Duration.minutes(15),
    );

    for (const f of [this.applyEvents, this.checkDrift, this.replay]) props.bind.redisClient(f);
    this.applyEventsAlias = this.provisionedAlias(config);
    props.bind.kafkaTrigger(this.applyEvents, this.applyEventsAlias ?? this.applyEvents.function);
    // apply-events reads the log too: a batch that starts past what a partition's ledger says was
    // handled is a hole only if Kafka holds records in between (not transaction markers).
    props.bind.kafkaReader(this.applyEvents);
    props.bind.kafkaReader(this.checkDrift);
    props.bind.kafkaReader(this.replay);
    // check-drift logs which alarms fire by the same numbers the CloudWatch alarms use.
    this.checkDrift.addEnvironment('SEQGUARD_THRESHOLDS', JSON.stringify(config.thresholds));
    // The two that publish metrics do so in this deployment's namespace, the one its alarms read.
    for (const f of [this.applyEvents, this.checkDrift]) {
      f.addEnvironment('SEQGUARD_METRICS_NAMESPACE', metricsNamespaceOf(config.prefix));
    }

    // The scheduler's own role, which may invoke check-drift and nothing else, and only for
    // schedules of this account.
    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: `EventBridge Scheduler: invokes ${config.prefix}-check-drift`,
    });
    acknowledge(
      schedulerRole,
      "grantInvoke adds the function's versions and aliases (<arn>:*) to its ARN; the role can invoke check-drift only.",
      `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.checkDrift.function.node.defaultChild as CfnElement)}.Arn>:*]`,
    );
    this.schedule = new scheduler.Schedule(this, 'CheckDriftEveryMinute', {
      scheduleName: `${config.prefix}-check-drift`,
      description: 'Runs the drift check every minute',
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
      target: new targets.LambdaInvoke(this.checkDrift.function, {
        role: schedulerRole,
        // A missed run is made up by the next one, a minute later; DriftCheckSilent pages if
        // runs keep missing.
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      prefix: config.prefix,
      thresholds: config.thresholdValues,
      alarmMinutes: config.alarmMinutes,
      paging: config.paging,
      ...(props.watch ? { data: props.watch } : {}),
      applyEvents: this.applyEvents,
      ...(this.applyEventsAlias ? { applyEventsAlias: this.applyEventsAlias } : {}),
      checkDrift: this.checkDrift,
      replay: this.replay,
    });
  }

  /**
   * Provisioned concurrency of apply-events, when asked for. It is configured on a published
   * version or an alias, never on the unpublished $LATEST (Lambda developer guide, "Configuring
   * provisioned concurrency for a function",
   * https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html), so the trigger
   * invokes the alias `live`, which carries it (AWS::Lambda::Alias ProvisionedConcurrencyConfig,
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-alias-provisionedconcurrencyconfiguration.html),
   * on the function's current version.
   *
   * Without it there is no version and no alias, and the trigger invokes the function as before:
   * a deployment that does not ask for provisioned concurrency keeps the template it had, and
   * does not publish (and wait for) a version on every deploy for nothing. One shape for every
   * deployment would cost that, and buys little, since switching is cheap:
   * turning it on or off later changes only the mapping's FunctionName, which CloudFormation
   * updates in place (it is not one of AWS::Lambda::EventSourceMapping's create-only
   * properties); UpdateEventSourceMapping changes the function "without losing your position in
   * the stream" (https://docs.aws.amazon.com/lambda/latest/dg/API_UpdateEventSourceMapping.html),
   * and the consumer group, whose committed offsets are the position, stays the same.
   */
  private provisionedAlias(config: SeqguardConfig): lambda.Alias | undefined {
    const executions = config.provisionedConcurrency;
    if (executions === 0) return undefined;
    const usable = invocationsPerPoller * config.eventSource.maximumPollers * config.topics.length;
    if (executions > usable) {
      Annotations.of(this).addWarningV2(
        'seqguard:provisioned-concurrency-unused',
        `provisionedConcurrency ${executions} is more than the trigger can use: ${config.topics.length} mapping(s) of at most ${config.eventSource.maximumPollers} poller(s), each poller invoking at most ${invocationsPerPoller} at a time (${usable}). The rest is billed and never used.`,
      );
    }
    // A new version whenever the code or configuration changes. The one the alias leaves is
    // deleted once the stack update succeeds (nothing else invokes it) rather than kept, so the
    // versions do not pile up against Lambda's code storage quota.
    const version = this.applyEvents.function.currentVersion;
    version.applyRemovalPolicy(RemovalPolicy.DESTROY);
    return new lambda.Alias(this, 'ApplyEventsLive', {
      aliasName: applyEventsAliasName,
      version,
      provisionedConcurrentExecutions: executions,
      description: `What the Kafka trigger invokes: the current version, ${executions} execution environment(s) kept initialized`,
    });
  }
}
