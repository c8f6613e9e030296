/**
 * check-drift during the soak, on its schedule, with automatic repair as deployed: the alarms it
 * raises and clears, and the repairs (replays) it makes.
 */
import { createSinkPorts, defaultThresholds } from '../../core/index.ts';
import { DriftMonitor } from '../../tools/drift-monitor.ts';
import type { KafkaClients } from '../scenario/secured-clients.ts';
import type { SoakRun } from './context.ts';
import type { AlarmMark } from './report.ts';
import type { SoakClients } from './servers.ts';

export interface SoakMonitor {
  monitor: DriftMonitor;
  /** Each alarm's transitions, for the report. */
  alarms: AlarmMark[];
  /** The repairs check-drift made: runs, records replayed, events they applied. */
  replays: { runs: number; records: number; applied: number };
}

/** Starts check-drift on the run's topic and consumer group, and puts it on `resources`. */
export function startDriftMonitor(
  run: SoakRun,
  kafka: KafkaClients,
  clients: SoakClients,
  resources: AsyncDisposableStack,
): SoakMonitor {
  const alarms: AlarmMark[] = [];
  const replays = { runs: 0, records: 0, applied: 0 };
  const monitor = new DriftMonitor({
    dependencies: {
      kafka: { clientId: 'seqguard-soak-drift', ...kafka.connection },
      redis: clients.monitorRedis,
      ports: createSinkPorts(clients.monitorRedis, clients.sink.guard),
      sink: clients.sink,
    },
    check: {
      topics: [run.topic],
      consumerGroup: run.groupId,
      autoReplay: true,
      replayLimit: 50_000,
      maxStateEntries: 1_000_000,
      // As the deployed check-drift, which repairs while its invocation has time.
      repairBudgetMs: 40_000,
    },
    thresholds: defaultThresholds,
    intervalMs: run.settings.checkIntervalMs,
    onTransition: (t) => {
      alarms.push({ at: t.at - run.started, alarm: t.metric, to: t.to, value: t.value });
      run.say(`alarm   ${t.metric} ${t.from} -> ${t.to} (${t.value})`);
    },
    onReport: (report) => {
      if (report.replay) {
        replays.runs += 1;
        replays.records += report.replay.records;
        replays.applied += report.replay.summary.applied;
      }
    },
  });
  monitor.start();
  resources.defer(() => monitor.stop());
  return { monitor, alarms, replays };
}
