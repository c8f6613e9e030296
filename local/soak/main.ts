/**
 * `npm run soak`: the pipeline under the faults a deployment meets, checked exact at the end.
 *
 * Starts its own servers in production's security shape (Kafka SASL_SSL with MSK IAM, Redis TLS
 * with an ACL user whose password the function reads from a local Secrets Manager; `--plaintext`
 * for neither): a redis-server with AOF (or, with `--cluster`, a Redis Cluster of 3 masters with a
 * replica each), a Kafka broker, a Redis of the producer's own for its durable seq counters. It
 * publishes events of every mutation the sink registers, refusals included, drawn from a seed,
 * through the hardened producer (in a process of its own), runs the apply-events function with
 * those mutations registered (handler.ts) through the event source mapping emulator, runs
 * check-drift on its schedule with automatic repair, and makes the faults of a schedule drawn
 * from the same seed. At the end it waits until everything is committed and repaired, checks
 * Redis against the model of the unique events (state, cursors, refusals, totals, dead letters),
 * and writes a self-contained HTML report. Exits 1 on any loss, duplicate, wrong refusal or wrong
 * dead letter.
 *
 *   npm run soak -- [--quick] [--cluster] [--seed N] [--events N] [--rate events/s]
 *                   [--partitions N] [--players N] [--malformed-rate R] [--plaintext]
 *                   [--report file.html] [--check-interval ms]
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { shardKeys, stateKey } from '../../core/index.ts';
import { sandboxSummary, startPipeline } from '../emulators/pipeline.ts';
import { exitOnHelp, numberFlag, secureRequested } from '../scenario/cli-flags.ts';
import { SoakError } from '../scenario/errors.ts';
import { startedLine } from '../scenario/function-rows.ts';
import { runMain } from '../scenario/run.ts';
import { BOARD, clock, MAX_VALUE_BYTES, n, SHARD, type SoakRun } from './context.ts';
import { FaultRunner } from './fault-runner.ts';
import type { FaultContext } from './faults.ts';
import { type SoakMonitor, startDriftMonitor } from './monitor.ts';
import { report, type SoakObservations, verify } from './outcome.ts';
import { SoakPublisher } from './publisher.ts';
import { SoakReads } from './reads.ts';
import { logEnds, Sampler } from './sampler.ts';
import {
  countByKind,
  type FaultKind,
  faultKinds,
  faultSchedule,
  fullCounts,
  quickCounts,
} from './schedule.ts';
import {
  functionEnvOf,
  openClients,
  type SoakClients,
  type SoakServers,
  startServers,
} from './servers.ts';
import { pipelineOptionsOf, type SoakPipelineOptions, SoakSink } from './sink.ts';
import { soakBursts } from './traffic.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    plaintext: { type: 'boolean', default: false },
    seed: { type: 'string' },
    events: { type: 'string' },
    rate: { type: 'string' },
    partitions: { type: 'string', default: '3' },
    players: { type: 'string', default: '10000' },
    'malformed-rate': { type: 'string', default: '0.002' },
    'duplicate-rate': { type: 'string', default: '0.01' },
    'gap-rate': { type: 'string', default: '0.005' },
    'sink-kills': { type: 'string' },
    faults: { type: 'string' },
    'check-interval': { type: 'string' },
    report: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

exitOnHelp(
  flags.help,
  'usage: npm run soak -- [--quick] [--cluster] [--seed N] [--events N] [--rate events/s]\n' +
    '       [--partitions N] [--players N] [--malformed-rate R] [--duplicate-rate R] [--gap-rate R]\n' +
    '       [--sink-kills N] [--faults kind,kind,...] [--check-interval ms] [--report file.html]\n' +
    '       [--plaintext]   (or SEQGUARD_PLAINTEXT=1: no TLS, no auth)',
);

const quick = flags.quick;
const topology = flags.cluster ? 'cluster' : 'single';
const settings = {
  seed: numberFlag(flags, 'seed', { min: 0, max: 2 ** 32 - 1, fallback: randomInt(1, 2 ** 31) }),
  events: numberFlag(flags, 'events', {
    min: 100,
    max: 100_000_000,
    fallback: quick ? 60_000 : 1_000_000,
  }),
  rate: numberFlag(flags, 'rate', { min: 10, max: 1_000_000, fallback: quick ? 1_000 : 3_000 }),
  partitions: numberFlag(flags, 'partitions', { min: 1, max: 64, fallback: 3 }),
  players: numberFlag(flags, 'players', { min: 1, max: 10_000_000, fallback: 10_000 }),
  malformedRate: numberFlag(flags, 'malformed-rate', { min: 0, max: 0.5, fallback: 0.002 }),
  duplicateRate: numberFlag(flags, 'duplicate-rate', { min: 0, max: 1, fallback: 0.01 }),
  gapRate: numberFlag(flags, 'gap-rate', { min: 0, max: 1, fallback: 0.005 }),
  checkIntervalMs: numberFlag(flags, 'check-interval', {
    min: 250,
    max: 600_000,
    fallback: quick ? 2_000 : 5_000,
  }),
};
const counts = quick ? quickCounts(topology) : fullCounts(topology);
if (flags.faults !== undefined) {
  // Only these kinds, as many as the mode has of each.
  const only = flags.faults.split(',').map((k) => k.trim());
  const unknown = only.filter((k) => !(k in faultKinds));
  if (unknown.length > 0) {
    console.error(
      `--faults: no such fault kind ${unknown.join(', ')}; kinds: ${Object.keys(faultKinds).join(', ')}`,
    );
    process.exit(2);
  }
  for (const kind of Object.keys(counts) as FaultKind[])
    if (!only.includes(kind)) delete counts[kind];
}
if (flags['sink-kills'] !== undefined)
  counts.sinkKill = numberFlag(flags, 'sink-kills', { min: 0, max: 10_000, fallback: 0 });
const secure = secureRequested(flags.plaintext);

/** Everything started, disposed in reverse order, once, on the way out or on Ctrl-C. */
const resources = new AsyncDisposableStack();
const started = Date.now();
const elapsed = () => Date.now() - started;
const say = (line: string) => console.log(`[${clock(elapsed())}] ${line}`);

/** The parts of a running soak, as set up. */
interface SoakParts {
  servers: SoakServers;
  clients: SoakClients;
  sink: SoakSink;
  monitor: SoakMonitor;
  publisher: SoakPublisher;
  faults: FaultRunner;
  reads: SoakReads;
  sampler: Sampler;
}

/** The run's names and its fault schedule, drawn from the seed; says what the run will do. */
function planRun(): SoakRun {
  const run = randomInt(0, 2 ** 24).toString(16);
  say(
    `seqguard soak: seed ${settings.seed} (--seed ${settings.seed} runs it again), ${topology === 'cluster' ? 'a Redis Cluster of 3 masters with a replica each' : 'one redis-server'}, ${secure ? "production's security shape" : 'plaintext'}${quick ? ', quick' : ''}`,
  );
  const schedule = faultSchedule({
    seed: settings.seed,
    events: settings.events,
    topology,
    counts,
    quick,
  });
  say(
    `${n(settings.events)} events at ${n(settings.rate)}/s; faults: ${Object.entries(
      countByKind(schedule),
    )
      .map(([k, c]) => `${k} ${c}`)
      .join(', ')}`,
  );
  return {
    settings,
    quick,
    topology,
    counts,
    secure,
    topic: `seqguard-soak-${run}`,
    prefix: `soak${run}`,
    groupId: `seqguard-soak-${run}`,
    schedule,
    started,
    elapsed,
    say,
  };
}

/** What the faults act on, and how they arm the sink's and the producer's kills. */
function faultContext(
  run: SoakRun,
  servers: SoakServers,
  sink: SoakSink,
  pipelineOptions: SoakPipelineOptions,
  publisher: SoakPublisher,
): FaultContext {
  return {
    broker: servers.broker,
    redis: servers.redis,
    shardKey: stateKey(SHARD, BOARD, run.prefix),
    metaKey: shardKeys(SHARD, run.prefix).meta,
    proxy: servers.proxy,
    startStorm: (i) =>
      startPipeline({
        ...pipelineOptions,
        mapping: {
          ...pipelineOptions.mapping,
          groupId: `${run.groupId}-storm-${i}`,
          startingPosition: 'TRIM_HORIZON',
        },
      }),
    armSinkKill: (fault) => sink.arm(fault),
    armProducerKill: async (i) => {
      const phase = i % 2 === 0 ? 'sending' : 'stamping';
      publisher.producer.armKill(phase, () => say(`fault   producer SIGKILLed while ${phase}`));
      return `armed while ${phase}`;
    },
  };
}

/** The line of progress the sampler says every five seconds. */
function sayProgress(run: SoakRun, parts: SoakParts): void {
  const { sink, publisher, faults, monitor, sampler } = parts;
  const alarms = Object.entries(monitor.monitor.states)
    .filter(([, s]) => s === 'ALARM')
    .map(([a]) => a);
  say(
    `published ${n(publisher.model.model.unique)}/${n(run.settings.events)}  applied ${n(sink.handlerCounts.applied)}  lag ${sampler.consumerLag ?? '?'}  kills hit ${sink.activity.killsHit}/${run.counts.sinkKill ?? 0}` +
      `  redis faults ${faults.redisFaultCount()} (${faults.lostWritesFaults} lost writes)  broker restarts ${faults.done.brokerRestart ?? 0}  repairs ${monitor.replays.runs}` +
      `  alarms ${alarms.join(',') || 'none'}`,
  );
}

/**
 * Set-up: the servers, the run's clients, the function behind the event source mapping (its
 * cold start done), check-drift on its schedule, the producer, the faults, and the sampling.
 */
async function setUp(run: SoakRun): Promise<SoakParts> {
  const sink = new SoakSink();
  const servers = await startServers(run, resources, (bytes) => sink.onSinkChunk(bytes));
  const functionEnv = functionEnvOf(run, servers);
  const clients = openClients(servers, functionEnv, resources);
  const { proxy, kafka } = servers;
  say(
    `redis   ${servers.redisUrl}${proxy ? ` (the sink through a proxy on ${proxy.port})` : ''}: ${servers.redisSecurity}`,
  );
  say(`kafka   ${kafka.connection.bootstrapBrokers.join(',')}: ${kafka.security}`);
  say(`topic   ${run.topic}, ${run.settings.partitions} partitions; key prefix ${run.prefix}`);

  const pipelineOptions = pipelineOptionsOf(kafka, run.topic, functionEnv);
  const pipeline = await sink.start(pipelineOptions, run.groupId, resources);
  say(`function: ${sandboxSummary([pipeline]).runs}`);
  say(startedLine(pipeline));
  const monitor = startDriftMonitor(run, kafka, clients, resources);
  const publisher = new SoakPublisher(run, kafka, servers.counterServer, resources);
  const faults = new FaultRunner(
    run.schedule,
    faultContext(run, servers, sink, pipelineOptions, publisher),
    run,
  );
  const reads = new SoakReads(run, clients.redis);
  await reads.start(resources);
  publisher.onLanded = (landed) => reads.landed(landed);
  const parts = { servers, clients, sink, monitor, publisher, faults, reads };
  const sampler: Sampler = new Sampler(run, {
    admin: servers.admin,
    redis: clients.redis,
    reads,
    pipeline,
    applied: () => sink.handlerCounts.applied,
    model: publisher.model,
    monitor: monitor.monitor,
    progress: () => sayProgress(run, { ...parts, sampler }),
  });
  sampler.start(resources);
  return { ...parts, sampler };
}

/** Run: publishes every burst, paced, firing the faults as their points come; then lets them end. */
async function publishAll(run: SoakRun, { sink, publisher, faults }: SoakParts): Promise<void> {
  const { settings } = run;
  // Unique events per burst: a tenth of a second's worth.
  const burstSize = Math.max(1, Math.round(settings.rate / 10));
  say(`publishing ${n(settings.events)} events`);
  const interval = (burstSize / settings.rate) * 1000;
  let burstNumber = 0;
  for (const drafts of soakBursts({
    seed: settings.seed,
    events: settings.events,
    players: settings.players,
    burstSize,
    duplicateRate: settings.duplicateRate,
    gapRate: settings.gapRate,
    malformedRate: settings.malformedRate,
    maxValueBytes: MAX_VALUE_BYTES,
  })) {
    if (sink.halted) throw sink.halted;
    if (faults.error) throw faults.error;
    const tick = performance.now();
    await publisher.publish(burstNumber++, drafts);
    faults.fireDue(publisher.model.model.unique);
    const rest = interval - (performance.now() - tick);
    if (rest > 0) await sleep(rest);
  }
  say('published; waiting for the faults to end, the sink to catch up and the repairs to finish');
  faults.fireDue(Number.POSITIVE_INFINITY);
  await faults.settled();
  // Sink kills still armed at the end go on while the last records are consumed.
  if (faults.error) throw faults.error;
}

/**
 * Caught up: every partition committed to its end, no sink kill still armed, and a recent drift
 * check finds nothing to repair. No progress for STALL_MS means the run is stuck: say why.
 */
async function waitUntilCaughtUp(run: SoakRun, parts: SoakParts): Promise<void> {
  const { sink, monitor } = parts;
  const { pipeline } = sink;
  const STALL_MS = 180_000;
  let lastProgress = Date.now();
  let lastState = '';
  for (;;) {
    if (sink.halted) throw sink.halted;
    const ends = await logEnds(parts.servers.admin, run.topic).catch(() => undefined);
    const committedAll =
      ends && [...ends].every(([id, end]) => pipeline.mapping.committed.get(id) === end);
    const lastCheck = monitor.monitor.lastReport;
    if (
      committedAll &&
      lastCheck &&
      Date.parse(lastCheck.checkedAt) > Date.now() - run.settings.checkIntervalMs * 2
    ) {
      const v = lastCheck.values;
      if (
        v.redisBehindRecords === 0 &&
        v.commitAheadRecords === 0 &&
        v.appliedLagRecords === 0 &&
        sink.armed.length === 0
      )
        return;
    }
    const state = `${[...pipeline.mapping.committed.values()].join(',')}/${monitor.replays.records}`;
    if (state !== lastState) {
      lastState = state;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > STALL_MS) {
      throw new SoakError(
        `no progress for ${STALL_MS / 1000} s (armed kills: ${sink.armed.length}); the function's last error: ${sink.lastFunctionError || 'none'}`,
      );
    }
    await sleep(500);
  }
}

/** Stops the sampling, the pipeline and check-drift, and checks once more: what the run saw. */
async function stopAndLook(parts: SoakParts): Promise<SoakObservations> {
  const { servers, sink, publisher, faults, monitor, sampler, reads } = parts;
  sampler.stop();
  await sampler.sample();
  await sink.pipeline.stop();
  await monitor.monitor.stop();
  const finalCheck = await monitor.monitor.checkOnce();
  await reads.finish();
  return {
    security: { redis: servers.redisSecurity, kafka: servers.kafka.security },
    sink,
    publisher,
    faults,
    monitor,
    sampler,
    reads,
    finalCheck,
  };
}

/** The soak in its phases: set up, run (publish with the faults), verify, report. */
async function main(): Promise<number> {
  const run = planRun();
  const parts = await setUp(run);
  await publishAll(run, parts);
  await waitUntilCaughtUp(run, parts);
  const seen = await stopAndLook(parts);
  say('caught up; checking Redis against the model of the unique events');
  const outcome = await verify(run, parts.clients.redis, seen);
  await report(run, seen, outcome, flags.report);
  return outcome.ok ? 0 : 1;
}

await runMain('soak', resources, main);
