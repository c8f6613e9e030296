/**
 * The drift check reports: every metric check-drift publishes for the alarms (`alarmMetrics`,
 * core/config/thresholds.ts; dimension `service` = `check-drift`, as
 * functions/check-drift/create-handler.ts publishes them through EMF and
 * infra/constructs/monitoring.ts alarms on them) has at least one datapoint in the last
 * `recentMinutes` minutes, that is in the last five runs of its one-minute schedule
 * (GetMetricData, SampleCount per minute). Without them no drift alarm can fire, and
 * DriftCheckSilent pages only for ConsumerLag.
 *
 * The namespace is the deployment's own (its prefix): the one its check-drift function publishes
 * to, read from the function's SEQGUARD_METRICS_NAMESPACE (GetFunctionConfiguration). Read there
 * rather than guessed from a stack name, which need not start with the prefix; a function
 * deployed before the variable existed publishes to its default, `seqguard`.
 */
import { GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { alarmMetrics, defaultOf } from '../../core/index.ts';
import {
  type CheckResult,
  type DoctorContext,
  fail,
  pass,
  resourcesOfType,
  skip,
} from './model.ts';

const id = 'drift-metrics';
const title = 'Drift metrics';

export const namespaceVariable = 'SEQGUARD_METRICS_NAMESPACE';
export const driftService = 'check-drift';
/** The window looked at: five scheduled runs, as DriftCheckSilent's five-minute period. */
export const recentMinutes = 5;

/**
 * Where the deployment's check-drift publishes: its SEQGUARD_METRICS_NAMESPACE, or the default
 * when it has none or the stacks hold no check-drift function to ask.
 */
export async function driftNamespace(context: DoctorContext): Promise<string> {
  const checkDrift = resourcesOfType(context.deployment, 'AWS::Lambda::Function').find((r) =>
    r.physicalId.endsWith(`-${driftService}`),
  );
  if (!checkDrift) return defaultOf(namespaceVariable);
  const config = await context.clients.lambda.send(
    new GetFunctionConfigurationCommand({ FunctionName: checkDrift.physicalId }),
  );
  return config.Environment?.Variables?.[namespaceVariable] ?? defaultOf(namespaceVariable);
}

export async function checkDriftMetrics(context: DoctorContext): Promise<CheckResult> {
  const { deployment } = context;
  const scheduled =
    resourcesOfType(deployment, 'AWS::Scheduler::Schedule').length > 0 ||
    resourcesOfType(deployment, 'AWS::Lambda::Function').some((r) =>
      r.physicalId.endsWith(`-${driftService}`),
    );
  if (!scheduled) return skip(id, title, 'the stacks hold no check-drift function nor schedule');
  const namespace = await driftNamespace(context);
  const names = Object.values(alarmMetrics);
  const queries: MetricDataQuery[] = names.map((name, i) => ({
    Id: `m${i}`,
    Label: name,
    MetricStat: {
      Metric: {
        Namespace: namespace,
        MetricName: name,
        Dimensions: [{ Name: 'service', Value: driftService }],
      },
      Period: 60,
      Stat: 'SampleCount',
    },
    ReturnData: true,
  }));
  const end = context.now;
  const start = new Date(end.getTime() - recentMinutes * 60_000);
  const { MetricDataResults = [] } = await context.clients.cloudwatch.send(
    new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: start, EndTime: end }),
  );
  const minutesWithData = new Map<string, number>();
  for (const result of MetricDataResults) {
    const name = names[Number(result.Id?.slice(1))];
    if (name === undefined) continue;
    minutesWithData.set(name, (result.Values ?? []).filter((v) => v > 0).length);
  }
  const silent = names.filter((n) => (minutesWithData.get(n) ?? 0) === 0);
  if (silent.length > 0)
    return fail(
      id,
      title,
      `no datapoint in the last ${recentMinutes} min for ${silent.join(', ')} (namespace ${namespace}, service=${driftService})`,
      `a stack deployed minutes ago has not had a run yet; otherwise read check-drift's log group and the schedule <prefix>-check-drift (docs/operations.md, "After a deploy: doctor")`,
    );
  const fewest = Math.min(...names.map((n) => minutesWithData.get(n) ?? 0));
  return pass(
    id,
    title,
    `${names.length} metrics, each in at least ${fewest} of the last ${recentMinutes} minutes`,
  );
}
