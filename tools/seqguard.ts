/**
 * The operator's command line: the drift check once or on a timer, and the repair tools.
 * Configuration comes from the same environment variables as the functions (README,
 * "Configuration"); KAFKA_BROKERS may stand in for SEQGUARD_KAFKA_BOOTSTRAP.
 *
 *   npm run seqguard -- check
 *   npm run seqguard -- monitor [--interval 60]
 *   npm run seqguard -- replay --topic T --partition P --from N [--to M] [--limit N]
 *   npm run seqguard -- replay --topic T --since 2026-11-27T05:00:00Z [--limit N]
 *   npm run seqguard -- rebuild --shard S --key NAME
 *   npm run seqguard -- verify
 *   npm run seqguard -- read rank KEY MEMBER --shard S [--at TOKEN]   (and score, top, around, wait)
 *   npm run seqguard -- doctor [--stack NAME ...] [--region R] [--json]
 *
 * `doctor` checks a deployed stack through the AWS APIs (tools/doctor/), so it needs AWS
 * credentials rather than the functions' environment.
 *
 * With mutations of your own, `--mutations MODULE` names the module that exports them as
 * `mutations` (a registry, docs/your-own-mutation.md), so every command decodes, applies, folds
 * and verifies with them.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  alarmMetrics,
  type ConfigCode,
  createSinkPorts,
  type DriftConnections,
  evaluateAlarms,
  loadThresholds,
  openDriftConnections,
  parseReplayRequest,
  rangesOf,
  replay,
  toPlainJson,
  topicPartition,
} from '../core/index.ts';
import { DriftMonitor, describeTransition } from './drift-monitor.ts';
import { UsageError } from './errors.ts';
import { readCommand, readUsage } from './read.ts';
import { rebuildState } from './rebuild/rebuild.ts';
import { formatVerifyReport } from './verify/report.ts';
import { verifyFromTopic } from './verify/verify.ts';

const usage = `usage: npm run seqguard -- <command> [flags]
  check                                   one drift check: metrics, alarms, repairs
  monitor [--interval SECONDS]            the drift check on a timer, printing alarm changes
  replay --topic T --partition P --from N [--to M] [--limit N]
  replay --topic T --since ISO-TIME|MS [--limit N]
                                          apply a range of records again, through the guard
  rebuild --shard S --key NAME            recompute a state key from its stream, swap it in
  verify                                  recompute the state from the topic, print differences
${readUsage}
  doctor [--stack NAME ...] [--region R] [--json]
                                          after a deploy: paging, triggers, alarms, drift
                                          metrics, Redis secret access (AWS credentials)
every command: [--mutations MODULE]       a module exporting your registry as \`mutations\``;

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    interval: { type: 'string', default: '60' },
    topic: { type: 'string' },
    partition: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    since: { type: 'string' },
    limit: { type: 'string' },
    shard: { type: 'string' },
    key: { type: 'string' },
    mutations: { type: 'string' },
    at: { type: 'string' },
    order: { type: 'string' },
    timeout: { type: 'string' },
    help: { type: 'boolean', default: false },
    stack: { type: 'string', multiple: true },
    region: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

function environment(): Record<string, string | undefined> {
  const env = { ...process.env };
  env.SEQGUARD_KAFKA_BOOTSTRAP ??= env.KAFKA_BROKERS;
  return env;
}

/** The registry a module exports as `mutations`, when --mutations names one. */
async function configCode(): Promise<ConfigCode> {
  if (flags.mutations === undefined) return {};
  const module = (await import(pathToFileURL(resolve(flags.mutations)).href)) as {
    mutations?: ConfigCode['mutations'];
  };
  const { mutations } = module;
  if (mutations === undefined || typeof mutations.get !== 'function') {
    throw new UsageError(
      `--mutations ${flags.mutations}: the module exports no \`mutations\` (a createMutationRegistry() result)`,
    );
  }
  return { mutations };
}

function required(name: keyof typeof flags): string {
  const value = flags[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

type Context = DriftConnections;

function json(value: unknown): string {
  return JSON.stringify(toPlainJson(value), null, 2);
}

async function check(context: Context): Promise<number> {
  const thresholds = loadThresholds(environment());
  const report = await (await monitorFor(context, 0)).checkOnce();
  const alarms = evaluateAlarms(report.values, thresholds);
  for (const [name, metric] of Object.entries(alarmMetrics)) {
    const alarm = name as keyof typeof alarmMetrics;
    console.log(
      `${alarms[alarm].padEnd(5)}  ${metric.padEnd(22)} ${report.values[alarm]}  (threshold ${thresholds[alarm]})`,
    );
  }
  console.log(
    json({ partitions: report.partitions, stateChecks: report.stateChecks, replay: report.replay }),
  );
  return Object.values(alarms).includes('ALARM') ? 1 : 0;
}

/** How long a check goes on repairing: about what the deployed check-drift has (55 s less its margin). */
const REPAIR_BUDGET_MS = 40_000;

async function monitorFor(
  { config, redis, kafka }: Context,
  intervalMs: number,
): Promise<DriftMonitor> {
  return new DriftMonitor({
    dependencies: {
      kafka: await kafka(),
      redis,
      ports: createSinkPorts(redis, config.sink.guard),
      sink: config.sink,
    },
    check: {
      topics: config.topics,
      consumerGroup: config.consumerGroup,
      autoReplay: config.autoReplay,
      replayLimit: config.replayLimit,
      maxStateEntries: config.maxStateEntries,
      repairBudgetMs: REPAIR_BUDGET_MS,
    },
    thresholds: loadThresholds(environment()),
    intervalMs,
    onTransition: (t) => console.log(describeTransition(t)),
    onError: (error) => console.error(`check failed: ${error.message}`),
  });
}

async function main(): Promise<number> {
  const [command] = positionals;
  if (flags.help) {
    console.log(usage);
    return 0;
  }
  if (!command) {
    console.error(usage);
    return 2;
  }
  if (command === 'doctor') return await doctorCommand();
  // The functions' environment, the Redis secret included (as their handlers do at cold start).
  const context: Context = await openDriftConnections(
    environment(),
    'seqguard-cli',
    await configCode(),
  );
  const { redis } = context;
  try {
    switch (command) {
      case 'check':
        return await check(context);
      case 'monitor':
        return await monitor(context);
      case 'replay':
        return await replayCommand(context);
      case 'rebuild':
        return await rebuildCommand(context);
      case 'verify':
        return await verifyCommand(context);
      case 'read':
        return await readCommand(context, positionals.slice(1), flags);
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } finally {
    redis.disconnect();
  }
}

/** Checks a deployed stack; exits 1 when a check fails. */
async function doctorCommand(): Promise<number> {
  // Loaded here: its AWS clients are of no use to the other commands.
  const { formatDoctorReport, runDoctor } = await import('./doctor/doctor.ts');
  const report = await runDoctor({ stacks: flags.stack ?? [], region: flags.region });
  console.log(flags.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
  return report.ok ? 0 : 1;
}

async function monitor(context: Context): Promise<number> {
  const seconds = Number(flags.interval);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError('--interval must be a positive number of seconds');
  const m = await monitorFor(context, seconds * 1000);
  console.log(`checking drift every ${seconds} s; Ctrl-C to stop`);
  m.start();
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  await m.stop();
  return 0;
}

async function replayCommand({ config, redis, kafka }: Context): Promise<number> {
  const topic = required('topic');
  const limit = flags.limit === undefined ? undefined : Number(flags.limit);
  const event = flags.since
    ? {
        topic,
        since: /^\d+$/.test(flags.since) ? Number(flags.since) : flags.since,
        ...(limit ? { limit } : {}),
      }
    : {
        topic,
        partition: Number(required('partition')),
        from: required('from'),
        ...(flags.to ? { to: flags.to } : {}),
        ...(limit ? { limit } : {}),
      };
  const { request, limit: perRun } = parseReplayRequest(event);
  const connection = await kafka();
  const ports = createSinkPorts(redis, config.sink.guard);
  let ranges = await rangesOf(connection, request);
  // Each pass is bounded; passes go on from where the last one stopped until nothing is left.
  for (let pass = 1; ranges.length > 0; pass++) {
    const result = await replay(
      connection,
      ports,
      config.sink,
      ranges,
      perRun ?? config.replayLimit,
    );
    const { applied, duplicates, refused, deadLettered } = result.summary;
    console.log(
      `pass ${pass}: ${result.records} records, ${applied} applied, ${refused} refused, ` +
        `${duplicates} already there, ${deadLettered} dead-lettered, ${result.failed} failed`,
    );
    if (result.errors.length > 0) {
      console.error(`errors: ${result.errors.join('; ')}`);
      return 1;
    }
    ranges = ranges.flatMap((range) => {
      const next = result.resumeAt.get(topicPartition(range));
      return next === undefined ? [] : [{ ...range, from: next }];
    });
  }
  return 0;
}

async function rebuildCommand({ config, redis }: Context): Promise<number> {
  const result = await rebuildState(redis, {
    shard: required('shard'),
    name: required('key'),
    keyPrefix: config.sink.guard.keyPrefix,
    ...(config.sink.guard.mutations ? { mutations: config.sink.guard.mutations } : {}),
  });
  console.log(json(result));
  return result.kind === 'rebuilt' ? 0 : 1;
}

async function verifyCommand({ config, redis, kafka }: Context): Promise<number> {
  const result = await verifyFromTopic({
    connection: await kafka(),
    redis,
    topics: config.topics,
    sink: config.sink,
  });
  console.log(formatVerifyReport(result));
  return result.differences.length === 0 && result.complete ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${usage}`);
    process.exitCode = 2;
  } else {
    console.error(`seqguard: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
