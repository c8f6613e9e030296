/**
 * The drift alarms: which metric each watches and at what value it pages. One definition, read
 * by the CDK alarms and by the local runtime's alarm evaluation, so both page on the same
 * numbers. Defaults come from the seed article's configuration template (lag 10,000 messages,
 * drift 30 s); SEQGUARD_THRESHOLDS (JSON) overrides any of them.
 */
import * as z from 'zod/mini';
import { ConfigError } from '../errors.ts';
import { inEnglish } from './zod-english.ts';

/** A threshold: a positive number, `fallback` when not given. */
const threshold = (fallback: number) => z._default(z.number().check(z.positive()), fallback);

export const thresholdsSchema = z.strictObject({
  /** Records the consumer group is behind the log end, all partitions together. */
  consumerLagRecords: threshold(10_000),
  /** Records Redis is behind the log end (by the applied checkpoints), all partitions. */
  appliedLagRecords: threshold(10_000),
  /** Age of the oldest record not yet applied, in seconds, worst partition. */
  timeLagSeconds: threshold(30),
  /** Records the group committed that Redis does not hold: Redis lost writes. */
  commitAheadRecords: threshold(1),
  /**
   * Records Redis holds less of than the partition ledgers say were handled: acknowledged
   * writes lost (a restart without data, a failover, a restore), or ranges the trigger gave
   * up on. The drift check replays them; records older than the log start cannot be, and keep
   * this alarm on.
   */
  redisBehindRecords: threshold(1),
  /** Open ranges of missing seqs. */
  openGaps: threshold(1),
  /** Entries in the dead-letter stream. */
  deadLetters: threshold(1),
  /** State keys whose contents disagree with the guard's running totals. */
  stateDriftKeys: threshold(1),
  /** Shards the sink wrote to whose keys are gone. */
  vanishedShards: threshold(1),
});

export type Thresholds = z.output<typeof thresholdsSchema>;

export const defaultThresholds: Thresholds = thresholdsSchema.parse({}, inEnglish);

/**
 * The metric (CloudWatch EMF, in the deployment's namespace, SEQGUARD_METRICS_NAMESPACE) behind
 * each threshold.
 */
export const alarmMetrics = {
  consumerLagRecords: 'ConsumerLag',
  appliedLagRecords: 'AppliedLag',
  timeLagSeconds: 'TimeLagSeconds',
  commitAheadRecords: 'CommitAheadOfApplied',
  redisBehindRecords: 'RedisBehindKafka',
  openGaps: 'OpenGaps',
  deadLetters: 'DeadLetterDepth',
  stateDriftKeys: 'StateDriftKeys',
  vanishedShards: 'VanishedShards',
} as const satisfies Record<keyof Thresholds, string>;

export type AlarmName = keyof Thresholds;

export function loadThresholds(env: Record<string, string | undefined>): Thresholds {
  const text = env.SEQGUARD_THRESHOLDS;
  if (text === undefined || text.trim() === '') return defaultThresholds;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`SEQGUARD_THRESHOLDS: not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const parsed = thresholdsSchema.safeParse(json, inEnglish);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.join('.') || 'thresholds'}: ${i.message}`,
    );
    throw new ConfigError(`SEQGUARD_THRESHOLDS: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export type AlarmState = 'OK' | 'ALARM';

/** An alarm is in ALARM while its metric is at or above its threshold (CloudWatch's >=). */
export function evaluateAlarms(
  values: Record<AlarmName, number>,
  thresholds: Thresholds,
): Record<AlarmName, AlarmState> {
  const states = {} as Record<AlarmName, AlarmState>;
  for (const name of Object.keys(alarmMetrics) as AlarmName[]) {
    states[name] = values[name] >= thresholds[name] ? 'ALARM' : 'OK';
  }
  return states;
}
