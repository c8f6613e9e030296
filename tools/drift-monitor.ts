/**
 * The local runtime's alarms: runs the drift check on a timer and evaluates the same thresholds
 * as the CloudWatch alarms, reporting each state change (OK -> ALARM -> OK) as it happens.
 */
import {
  type AlarmName,
  type AlarmState,
  alarmMetrics,
  checkDrift,
  type DriftCheckDependencies,
  type DriftCheckOptions,
  type DriftReport,
  evaluateAlarms,
  type Thresholds,
} from '../core/index.ts';

export interface AlarmTransition {
  at: number;
  alarm: AlarmName;
  metric: string;
  from: AlarmState;
  to: AlarmState;
  value: number;
  threshold: number;
}

export interface DriftMonitorOptions {
  dependencies: DriftCheckDependencies;
  check: DriftCheckOptions;
  thresholds: Thresholds;
  intervalMs: number;
  onTransition?(transition: AlarmTransition): void;
  onReport?(report: DriftReport): void;
  onError?(error: Error): void;
}

export function describeTransition(t: AlarmTransition): string {
  return `${new Date(t.at).toISOString()}  ${t.to.padEnd(5)}  ${t.metric} = ${t.value} (threshold ${t.threshold}, was ${t.from})`;
}

export class DriftMonitor {
  readonly #options: DriftMonitorOptions;
  readonly states = Object.fromEntries(
    Object.keys(alarmMetrics).map((name) => [name, 'OK']),
  ) as Record<AlarmName, AlarmState>;
  readonly transitions: AlarmTransition[] = [];
  lastReport: DriftReport | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: DriftMonitorOptions) {
    this.#options = options;
  }

  /** One check now; transitions are recorded and reported. */
  async checkOnce(): Promise<DriftReport> {
    const report = await checkDrift(this.#options.dependencies, this.#options.check);
    this.lastReport = report;
    const states = evaluateAlarms(report.values, this.#options.thresholds);
    for (const alarm of Object.keys(states) as AlarmName[]) {
      if (states[alarm] === this.states[alarm]) continue;
      const transition: AlarmTransition = {
        at: Date.now(),
        alarm,
        metric: alarmMetrics[alarm],
        from: this.states[alarm],
        to: states[alarm],
        value: report.values[alarm],
        threshold: this.#options.thresholds[alarm],
      };
      this.states[alarm] = states[alarm];
      this.transitions.push(transition);
      this.#options.onTransition?.(transition);
    }
    this.#options.onReport?.(report);
    return report;
  }

  start(): void {
    const tick = async () => {
      try {
        await this.checkOnce();
      } catch (error) {
        this.#options.onError?.(error as Error);
      }
      if (!this.#stopped)
        this.#timer = setTimeout(() => (this.#running = tick()), this.#options.intervalMs);
    };
    this.#running = tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
