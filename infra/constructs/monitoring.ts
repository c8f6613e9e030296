/**
 * Alarms that page, and a dashboard of the same metrics. Every drift alarm is built from
 * `core/config/thresholds.ts` (`alarmMetrics` and the thresholds), the definition the
 * check-drift function and the local monitor evaluate too. The metrics are the EMF metrics
 * Powertools publishes: namespace = the deployment's prefix (`metricsNamespaceOf`), dimension
 * `service` = the Metrics serviceName.
 */
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { type AlarmName, alarmMetrics, type Thresholds } from '../../core/index.ts';
import type { SeqguardFunction } from './seqguard-function.ts';

/**
 * The CloudWatch namespace of a deployment's metrics: its prefix. The functions publish there
 * (the pipeline sets SEQGUARD_METRICS_NAMESPACE from it) and the alarms and dashboard read from
 * there, so a second deployment in the account and region never feeds this one's alarms. The
 * default prefix `seqguard` keeps the namespace deployments had before it followed the prefix.
 * A prefix is always a valid namespace: lower-case letters, digits and hyphens (infra/config.ts),
 * never `AWS/`.
 */
export function metricsNamespaceOf(prefix: string): string {
  return prefix;
}

/** The `service` dimension values the handlers' Powertools Metrics use. */
export const driftService = 'check-drift';
export const sinkService = 'apply-events';

export interface PagingTargets {
  pagerDutyUrl?: string | undefined;
  emails: string[];
  slack?: { workspaceId: string; channelId: string } | undefined;
  /** Nobody is paged, on purpose: why. */
  none?: string | undefined;
}

/** The data services the alarms watch, when this deployment created them (data stack). */
export interface WatchedData {
  kafka: { mode: 'provisioned' | 'serverless'; clusterName: string; brokers: number };
  redis: {
    mode: 'cluster' | 'serverless';
    name: string;
    shards: number;
    nodesPerShard: number;
    serverlessMaxDataGiB: number;
  };
}

export interface MonitoringProps {
  /** Absent when the clusters are brought (docs/deploying.md, "Bring your own clusters"). */
  data?: WatchedData;
  prefix: string;
  thresholds: Thresholds;
  /** Consecutive one-minute breaches before a lag alarm pages. */
  alarmMinutes: number;
  paging: PagingTargets;
  applyEvents: SeqguardFunction;
  /** apply-events' alias with provisioned concurrency, which the trigger invokes, if any. */
  applyEventsAlias?: lambda.Alias;
  checkDrift: SeqguardFunction;
  replay: SeqguardFunction;
}

/**
 * Lag can spike for a minute (a burst, a rebalance) and recover by itself: it pages only after
 * `alarmMinutes` breaching minutes in a row. The others mean data needs a human now (Redis lost
 * writes, a node lost its data, something wrote around the pipeline, a record was refused):
 * they page on the first breaching minute.
 */
const pagesAtOnce: ReadonlySet<AlarmName> = new Set<AlarmName>([
  'commitAheadRecords',
  'redisBehindRecords',
  'openGaps',
  'deadLetters',
  'stateDriftKeys',
  'vanishedShards',
]);

export function driftMetric(namespace: string, name: AlarmName): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace,
    metricName: alarmMetrics[name],
    dimensionsMap: { service: driftService },
    statistic: cloudwatch.Stats.MAXIMUM,
    period: Duration.minutes(1),
  });
}

/**
 * How much of the alias's provisioned concurrency runs, and the invocations beyond it, which
 * may start cold (Lambda developer guide, "Monitoring concurrency", provisioned concurrency
 * metrics, https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html). A graph,
 * not an alarm: spillover costs latency, not data, and is for sizing `provisionedConcurrency`.
 */
function provisionedConcurrencyGraph(alias: lambda.Alias): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({
    title: `apply-events provisioned concurrency (alias ${alias.aliasName})`,
    width: 8,
    left: [
      alias.metric('ProvisionedConcurrencyUtilization', {
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(1),
      }),
    ],
    right: [
      alias.metric('ProvisionedConcurrencySpilloverInvocations', {
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(1),
      }),
    ],
  });
}

export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  private readonly pageTo: actions.SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = this.alarmTopic(props.prefix);
    this.subscribe(props.paging, props.prefix);
    this.announcePaging(props.paging);
    this.pageTo = new actions.SnsAction(this.topic);
    this.watchDrift(props);
    const offsetLag = this.watchOffsetLag(props);
    this.watchFunctions(props);
    if (props.data) this.watchData(props.data, props.prefix);
    this.dashboard = this.buildDashboard(props, offsetLag);
  }

  /**
   * The topic every alarm and recovery goes to. Alarm notifications are encrypted at rest with a
   * key CloudWatch may use, from this account only (an AWS managed key would not let CloudWatch
   * publish).
   */
  private alarmTopic(prefix: string): sns.Topic {
    const account = Stack.of(this).account;
    const key = new kms.Key(this, 'TopicKey', {
      description: `${prefix}: encrypts the alarm topic`,
      enableKeyRotation: true,
      // It encrypts notifications in flight only, nothing kept: it goes with the stack (after
      // KMS's waiting period), whatever retainData says.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      topicName: `${prefix}-alarms`,
      displayName: `${prefix} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOnly',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    return topic;
  }

  /**
   * Says at every synth who is paged, and, as the stack's output `Paging`, after the deploy
   * (what `seqguard doctor` reads): nobody, by decision, is said loudly every time.
   */
  private announcePaging(paging: PagingTargets): void {
    const targets = [
      ...(paging.pagerDutyUrl ? ['PagerDuty'] : []),
      ...(paging.emails.length > 0 ? [`${paging.emails.length} e-mail address(es)`] : []),
      ...(paging.slack ? ['Slack'] : []),
    ];
    if (targets.length === 0) {
      Annotations.of(this).addWarningV2(
        'seqguard:paging-nobody',
        `NOBODY IS PAGED, as decided (paging.none: "${paging.none ?? ''}"): the alarms go to an SNS topic without subscribers. Set the \`paging\` context before you rely on this deployment (docs/deploying.md#alarms-and-paging).`,
      );
    }
    if (paging.emails.length > 0) {
      // Amazon SNS developer guide, "Email notifications": an e-mail endpoint receives nothing
      // until its owner confirms the subscription.
      Annotations.of(this).addWarningV2(
        'seqguard:paging-email-confirm',
        `each of the ${paging.emails.length} paging e-mail address(es) receives nothing until it confirms the subscription mail AWS sends at deploy; \`npm run seqguard -- doctor\` lists the unconfirmed ones.`,
      );
    }
    // Fixed output keys, which `seqguard doctor` reads (tools/doctor/subscriptions.ts): a topic
    // without subscribers is then a decision, not a fault.
    const output =
      targets.length === 0
        ? new CfnOutput(this, 'PagingNone', {
            description: 'Nobody is paged, on purpose: why (the paging context)',
            value: paging.none ?? '',
          })
        : new CfnOutput(this, 'Paging', {
            description: 'Who the alarms page (the paging context)',
            value: targets.join(', '),
          });
    output.overrideLogicalId(targets.length === 0 ? 'PagingNone' : 'Paging');
  }

  /** Makes `alarm` page, and keeps it for the dashboard's alarm status. */
  private page(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    // OK actions too: PagerDuty resolves the incident, Slack and e-mail say it recovered.
    alarm.addAlarmAction(this.pageTo);
    alarm.addOkAction(this.pageTo);
    this.alarms.push(alarm);
    return alarm;
  }

  /** One alarm per drift metric, and one for a drift check that stopped reporting. */
  private watchDrift(props: MonitoringProps): void {
    const namespace = metricsNamespaceOf(props.prefix);
    for (const name of Object.keys(alarmMetrics) as AlarmName[]) {
      const minutes = pagesAtOnce.has(name) ? 1 : props.alarmMinutes;
      this.page(
        new cloudwatch.Alarm(this, `Drift-${alarmMetrics[name]}`, {
          alarmName: `${props.prefix}-${alarmMetrics[name]}`,
          alarmDescription: `${alarmMetrics[name]} >= ${props.thresholds[name]} (thresholds.ts: ${name}), for ${minutes} min. Runbook: docs/operations.md, "Drift checks and repair".`,
          metric: driftMetric(namespace, name),
          threshold: props.thresholds[name],
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: minutes,
          datapointsToAlarm: minutes,
          // No data is not a breach of these: the silence alarm below pages for a check that
          // stopped reporting, once, instead of every drift alarm at the same time.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    this.page(
      new cloudwatch.Alarm(this, 'DriftCheckSilent', {
        alarmName: `${props.prefix}-DriftCheckSilent`,
        alarmDescription:
          'check-drift published no ConsumerLag for 5 minutes: the schedule, the function or its access to Kafka or Redis is broken, and no drift alarm can fire.',
        metric: driftMetric(namespace, 'consumerLagRecords').with({
          statistic: cloudwatch.Stats.SAMPLE_COUNT,
          period: Duration.minutes(5),
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
  }

  /**
   * The event source mapping's own view of the lag (AWS/Lambda OffsetLag, per function), against
   * the same threshold as the drift check's ConsumerLag. Returns the metric for the dashboard.
   */
  private watchOffsetLag(props: MonitoringProps): cloudwatch.Metric {
    const offsetLag = new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'OffsetLag',
      dimensionsMap: { FunctionName: props.applyEvents.function.functionName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(1),
    });
    this.page(
      new cloudwatch.Alarm(this, 'EsmOffsetLag', {
        alarmName: `${props.prefix}-EsmOffsetLag`,
        alarmDescription: `The event source mapping is ${props.thresholds.consumerLagRecords} or more records behind (OffsetLag).`,
        metric: offsetLag,
        threshold: props.thresholds.consumerLagRecords,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: props.alarmMinutes,
        datapointsToAlarm: props.alarmMinutes,
        // Lambda stops emitting OffsetLag while nothing is consumed; DriftCheckSilent and
        // ConsumerLag cover a mapping that stopped.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    return offsetLag;
  }

  /** Errors and throttles of each function, then runs near their timeout. */
  private watchFunctions(props: MonitoringProps): void {
    const functions: [string, SeqguardFunction, number][] = [
      ['ApplyEvents', props.applyEvents, props.alarmMinutes],
      ['CheckDrift', props.checkDrift, props.alarmMinutes],
      // Replay runs on demand: one failed run is worth a page.
      ['Replay', props.replay, 1],
    ];
    for (const [name, fn, minutes] of functions) {
      const common = {
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: minutes,
        datapointsToAlarm: minutes,
        // No invocations, no errors.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      };
      this.page(
        new cloudwatch.Alarm(this, `${name}Errors`, {
          ...common,
          alarmName: `${props.prefix}-${name}-Errors`,
          alarmDescription: `${fn.function.functionName} failed (threw or timed out) in ${minutes} consecutive minute(s).`,
          metric: fn.function.metricErrors({
            period: Duration.minutes(1),
            statistic: cloudwatch.Stats.SUM,
          }),
        }),
      );
      this.page(
        new cloudwatch.Alarm(this, `${name}Throttles`, {
          ...common,
          alarmName: `${props.prefix}-${name}-Throttles`,
          alarmDescription: `${fn.function.functionName} was throttled in ${minutes} consecutive minute(s).`,
          metric: fn.function.metricThrottles({
            period: Duration.minutes(1),
            statistic: cloudwatch.Stats.SUM,
          }),
        }),
      );
    }

    for (const [name, fn] of functions) {
      // A run near its timeout is about to be killed mid-batch: the guard keeps that safe, but
      // the batch is retried and the lag grows.
      const timeoutMs = fn.function.timeout?.toMilliseconds() ?? 3_000;
      this.page(
        new cloudwatch.Alarm(this, `${name}NearTimeout`, {
          alarmName: `${props.prefix}-${name}-NearTimeout`,
          alarmDescription: `${fn.function.functionName} ran for 80% or more of its ${timeoutMs / 1000} s timeout.`,
          metric: fn.function.metricDuration({
            period: Duration.minutes(1),
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
          threshold: timeoutMs * 0.8,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
  }

  /**
   * ElastiCache memory (the cache runs `noeviction`: a full cache refuses writes, and the sink
   * retries until the batch ages out) and engine CPU (Lua runs on the engine thread), per node
   * (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.WhichShouldIMonitor.html);
   * MSK broker disk use, per broker
   * (https://docs.aws.amazon.com/msk/latest/developerguide/metrics-details.html).
   */
  private watchData(data: WatchedData, prefix: string): void {
    const alarm = (id: string, description: string, metric: cloudwatch.Metric, threshold: number) =>
      this.page(
        new cloudwatch.Alarm(this, id, {
          alarmName: `${prefix}-${id}`,
          alarmDescription: description,
          metric,
          threshold,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 5,
          datapointsToAlarm: 5,
          treatMissingData: cloudwatch.TreatMissingData.MISSING,
        }),
      );
    const max = (namespace: string, metricName: string, dimensionsMap: Record<string, string>) =>
      new cloudwatch.Metric({
        namespace,
        metricName,
        dimensionsMap,
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(1),
      });
    if (data.redis.mode === 'cluster') {
      for (let shard = 1; shard <= data.redis.shards; shard++) {
        for (let node = 1; node <= data.redis.nodesPerShard; node++) {
          const id = `${data.redis.name}-${String(shard).padStart(4, '0')}-${String(node).padStart(3, '0')}`;
          alarm(
            `RedisMemory-${id}`,
            `${id} uses 80% or more of its memory; with noeviction, writes fail when it is full.`,
            max('AWS/ElastiCache', 'DatabaseMemoryUsagePercentage', { CacheClusterId: id }),
            80,
          );
          alarm(
            `RedisEngineCpu-${id}`,
            `${id}'s engine thread is 80% or more busy (the Lua guard runs there).`,
            max('AWS/ElastiCache', 'EngineCPUUtilization', { CacheClusterId: id }),
            80,
          );
        }
      }
    } else {
      alarm(
        'RedisMemory',
        `${data.redis.name} holds 80% or more of its ${data.redis.serverlessMaxDataGiB} GiB limit; writes fail at the limit.`,
        max('AWS/ElastiCache', 'BytesUsedForCache', { clusterId: data.redis.name }),
        data.redis.serverlessMaxDataGiB * 1024 ** 3 * 0.8,
      );
    }
    if (data.kafka.mode === 'provisioned') {
      for (let broker = 1; broker <= data.kafka.brokers; broker++) {
        alarm(
          `KafkaDisk-${broker}`,
          `Broker ${broker} of ${data.kafka.clusterName} uses 80% or more of its data volume.`,
          max('AWS/Kafka', 'KafkaDataLogsDiskUsed', {
            'Cluster Name': data.kafka.clusterName,
            'Broker ID': String(broker),
          }),
          80,
        );
      }
    }
  }

  private subscribe(paging: PagingTargets, prefix: string): void {
    if (paging.pagerDutyUrl) {
      this.topic.addSubscription(
        new subscriptions.UrlSubscription(paging.pagerDutyUrl, {
          protocol: sns.SubscriptionProtocol.HTTPS,
        }),
      );
    }
    for (const email of paging.emails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    if (paging.slack) {
      new chatbot.SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName: `${prefix}-alarms`,
        slackWorkspaceId: paging.slack.workspaceId,
        slackChannelId: paging.slack.channelId,
        notificationTopics: [this.topic],
        // Notifications only: what a Slack user may do through Chatbot is capped at reading
        // CloudWatch.
        guardrailPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('CloudWatchReadOnlyAccess')],
      });
    }
  }

  private buildDashboard(props: MonitoringProps, offsetLag: cloudwatch.Metric) {
    const namespace = metricsNamespaceOf(props.prefix);
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.prefix,
      defaultInterval: Duration.hours(3),
    });
    const driftGraph = (title: string, names: AlarmName[]) =>
      new cloudwatch.GraphWidget({
        title,
        width: 8,
        left: names.map((n) => driftMetric(namespace, n)),
        leftAnnotations: names.map((n) => ({
          value: props.thresholds[n],
          label: `${alarmMetrics[n]} alarm`,
          color: cloudwatch.Color.RED,
        })),
      });
    const sink = (metricName: string, statistic: string = cloudwatch.Stats.SUM) =>
      new cloudwatch.Metric({
        namespace,
        metricName,
        dimensionsMap: { service: sinkService },
        statistic,
        period: Duration.minutes(1),
      });
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );
    dashboard.addWidgets(
      driftGraph('Lag (records)', ['consumerLagRecords', 'appliedLagRecords']),
      driftGraph('Time lag (s)', ['timeLagSeconds']),
      new cloudwatch.GraphWidget({
        title: 'ESM OffsetLag',
        width: 8,
        left: [offsetLag],
        leftAnnotations: [{ value: props.thresholds.consumerLagRecords, label: 'alarm' }],
      }),
    );
    dashboard.addWidgets(
      driftGraph('Redis integrity', [
        'redisBehindRecords',
        'commitAheadRecords',
        'vanishedShards',
        'stateDriftKeys',
      ]),
      driftGraph('Gaps and dead letters', ['openGaps', 'deadLetters']),
      new cloudwatch.GraphWidget({
        title: 'apply-events outcomes',
        width: 8,
        left: [
          sink('EventsApplied'),
          sink('EventsAppliedLate'),
          sink('EventsDuplicate'),
          sink('RecordsDeadLettered'),
          sink('RecordsRetried'),
        ],
      }),
    );
    const fns = [props.applyEvents, props.checkDrift, props.replay].map((f) => f.function);
    // The function alarms and graphs use the FunctionName dimension alone: the aggregate of all
    // versions and aliases, so they count the alias's invocations too (Lambda developer guide,
    // "Using CloudWatch metrics with Lambda",
    // https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html).
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Function errors and throttles',
        width: 8,
        left: fns.flatMap((f) => [
          f.metricErrors({ period: Duration.minutes(1) }),
          f.metricThrottles({ period: Duration.minutes(1) }),
        ]),
      }),
      new cloudwatch.GraphWidget({
        title: 'Durations (p99, ms)',
        width: 8,
        left: [
          sink('BatchDuration', cloudwatch.Stats.p(99)),
          ...fns.map((f) => f.metricDuration({ statistic: cloudwatch.Stats.p(99) })),
        ],
      }),
      ...(props.applyEventsAlias ? [provisionedConcurrencyGraph(props.applyEventsAlias)] : []),
    );
    return dashboard;
  }
}
