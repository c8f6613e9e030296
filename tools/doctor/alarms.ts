/**
 * No alarm is stuck in INSUFFICIENT_DATA. A new alarm starts there and leaves it at its first
 * evaluation (CloudWatch user guide, "Alarm states",
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html); the
 * seqguard alarms treat missing data as not breaching (or, DriftCheckSilent, as breaching), so
 * once evaluated they are OK or ALARM even when no data comes. One still in INSUFFICIENT_DATA long
 * after that watches nothing: a metric, dimension or statistic that never gets data.
 *
 * "Long after" is three evaluation windows (3 x Period x EvaluationPeriods) since the alarm's
 * configuration last changed (AlarmConfigurationUpdatedTimestamp): 3 minutes for a one-minute
 * alarm, 15 for DriftCheckSilent. A younger alarm is counted as too new to judge, not failed.
 */
import { DescribeAlarmsCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import {
  type CheckResult,
  type DoctorContext,
  fail,
  pass,
  resourcesOfType,
  skip,
} from './model.ts';

const id = 'alarm-states';
const title = 'Alarm states';

/** Evaluation windows an alarm may spend in INSUFFICIENT_DATA before it counts as stuck. */
export const stuckAfterWindows = 3;

/** DescribeAlarms takes at most 100 names (CloudWatch API reference, DescribeAlarms). */
const namesPerCall = 100;

/** Seconds one evaluation of the alarm covers: Period x EvaluationPeriods. */
function windowSeconds(alarm: MetricAlarm): number {
  const period =
    alarm.Period ?? Math.max(60, ...(alarm.Metrics ?? []).map((m) => m.MetricStat?.Period ?? 60));
  return period * (alarm.EvaluationPeriods ?? 1);
}

/** Whether an alarm in INSUFFICIENT_DATA is old enough to have left it. */
export function isStuck(alarm: MetricAlarm, now: Date): boolean {
  if (alarm.StateValue !== 'INSUFFICIENT_DATA') return false;
  const since = alarm.AlarmConfigurationUpdatedTimestamp ?? alarm.StateUpdatedTimestamp;
  if (since === undefined) return true;
  return now.getTime() - since.getTime() > stuckAfterWindows * windowSeconds(alarm) * 1000;
}

export async function checkAlarmStates(context: DoctorContext): Promise<CheckResult> {
  const names = resourcesOfType(context.deployment, 'AWS::CloudWatch::Alarm').map(
    (r) => r.physicalId,
  );
  if (names.length === 0) return skip(id, title, 'the stacks hold no CloudWatch alarm');
  const alarms: MetricAlarm[] = [];
  for (let i = 0; i < names.length; i += namesPerCall) {
    const { MetricAlarms = [] } = await context.clients.cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: names.slice(i, i + namesPerCall) }),
    );
    alarms.push(...MetricAlarms);
  }
  const tally = ['OK', 'ALARM', 'INSUFFICIENT_DATA']
    .map((state) => [state, alarms.filter((a) => a.StateValue === state).length] as const)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
  const missing = names.filter((n) => !alarms.some((a) => a.AlarmName === n));
  const stuck = alarms.filter((a) => isStuck(a, context.now)).map((a) => a.AlarmName);
  if (missing.length > 0 || stuck.length > 0)
    return fail(
      id,
      title,
      [
        stuck.length > 0
          ? `INSUFFICIENT_DATA for over ${stuckAfterWindows} evaluation windows: ${stuck.join(', ')}`
          : '',
        missing.length > 0 ? `declared but not found: ${missing.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
      'compare the alarm\'s namespace, metric, dimensions and statistic with what the function publishes (docs/operations.md, "After a deploy: doctor"); a missing alarm comes back with a deploy',
    );
  const young = alarms.filter((a) => a.StateValue === 'INSUFFICIENT_DATA').length;
  return pass(id, title, `${tally}${young > 0 ? ` (${young} too new to judge)` : ''}`);
}
