/**
 * `npm run soak`: the pipeline under the faults a deployment meets, checked exact at the end.
 *
 * Starts its own servers in production's security shape (Kafka SASL_SSL with MSK IAM, Redis TLS
 * with an ACL user whose password the function reads from a local Secrets Manager; `--plaintext`
 * for neither): a redis-server with AOF (or, with `--cluster`, a Redis Cluster of 3 masters with a
 * replica each), a Kafka broker, a Redis of the producer's own for its durable seq counters. It
 * publishes events drawn from a seed through the hardened producer (in a process of its own),
 * runs the real apply-events function through the event source mapping emulator, runs
 * check-drift on its schedule with automatic repair, and makes the faults of a schedule drawn
 * from the same seed. At the end it waits until everything is committed and repaired, checks
 * Redis against the model of the unique events (state, cursors, totals, dead letters), and
 * writes a self-contained HTML report. Exits 1 on any loss, duplicate or wrong dead letter.
 *
 *   npm run soak -- [--quick] [--cluster] [--seed N] [--events N] [--rate events/s]
 *                   [--partitions N] [--players N] [--malformed-rate R] [--plaintext]
 *                   [--report file.html] [--check-interval ms]
 */

import { randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Admin } from '@platformatic/kafka';
import {
  createAdmin,
  createRedisClient,
  createSinkPorts,
  cursorField,
  deadLetterKeys,
  defaultThresholds,
  loadSinkConfig,
  partitionRanges,
  type RedisClient,
  shardKeys,
  stateKey,
  topicPartition,
} from '../../core/index.ts';

import { DriftMonitor } from '../../tools/drift-monitor.ts';
import { startKafkaBroker } from '../emulators/kafka/broker.ts';
import type { EsmActivity } from '../emulators/lambda/event-source-mapping.ts';
import { type Pipeline, startPipeline } from '../emulators/pipeline.ts';
import { type RedisCluster, startRedisCluster } from '../emulators/redis/cluster.ts';
import { type RedisServer, startRedisServer } from '../emulators/redis/server.ts';
import { plaintextRequested } from '../emulators/security-mode.ts';
import { startTcpProxy, type TcpProxy } from '../emulators/tcp-proxy.ts';
import { SoakError } from '../scenario/errors.ts';
import { runMain } from '../scenario/run.ts';
import { kafkaClientsOf, secureRedisAccess } from '../scenario/secured-clients.ts';
import { seededRandom } from '../scenario/seeded-random.ts';
import { entryLatencies, histogramPercentile } from '../scenario/stream-latency.ts';
import { demoStateName } from '../scenario/traffic-model.ts';
import { checkAgainstModel } from '../scenario/verdict.ts';
import { checkDeadLetters } from './dead-letters.ts';
import { type FaultContext, runFault, takeSnapshot } from './faults.ts';
import { SoakModel } from './model.ts';
import { SoakProducer } from './producer.ts';
import { type AlarmMark, buildReport, type FaultMark, type SeriesPoint } from './report.ts';
import {
  clusterNodeTimeoutMs,
  countByKind,
  type FaultKind,
  faultKinds,
  faultSchedule,
  fullCounts,
  losesAcknowledgedWrites,
  quickCounts,
  redisFaults,
  type ScheduledFault,
  serialKinds,
  sinkCommandTimeoutMs,
} from './schedule.ts';
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

if (flags.help) {
  console.log(
    'usage: npm run soak -- [--quick] [--cluster] [--seed N] [--events N] [--rate events/s]\n' +
      '       [--partitions N] [--players N] [--malformed-rate R] [--duplicate-rate R] [--gap-rate R]\n' +
      '       [--sink-kills N] [--faults kind,kind,...] [--check-interval ms] [--report file.html]\n' +
      '       [--plaintext]   (or SEQGUARD_PLAINTEXT=1: no TLS, no auth)',
  );
  process.exit(0);
}

function numberFlag(name: keyof typeof flags, fallback: number, min: number, max: number): number {
  const raw = flags[name];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    console.error(`--${name} must be a number from ${min} to ${max}, got ${raw}`);
    process.exit(2);
  }
  return value;
}

const quick = flags.quick;
const topology = flags.cluster ? 'cluster' : 'single';
const settings = {
  seed: numberFlag('seed', randomInt(1, 2 ** 31), 0, 2 ** 32 - 1),
  events: numberFlag('events', quick ? 60_000 : 1_000_000, 100, 100_000_000),
  rate: numberFlag('rate', quick ? 1_000 : 3_000, 10, 1_000_000),
  partitions: numberFlag('partitions', 3, 1, 64),
  players: numberFlag('players', 10_000, 1, 10_000_000),
  malformedRate: numberFlag('malformed-rate', 0.002, 0, 0.5),
  duplicateRate: numberFlag('duplicate-rate', 0.01, 0, 1),
  gapRate: numberFlag('gap-rate', 0.005, 0, 1),
  checkIntervalMs: numberFlag('check-interval', quick ? 2_000 : 5_000, 250, 600_000),
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
if (flags['sink-kills'] !== undefined) counts.sinkKill = numberFlag('sink-kills', 0, 0, 10_000);
const secure = !flags.plaintext && !plaintextRequested();

const resources = new AsyncDisposableStack();
const started = Date.now();
const elapsed = () => Date.now() - started;
const clock = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};
const say = (line: string) => console.log(`[${clock(elapsed())}] ${line}`);
const n = (x: number) => x.toLocaleString('en-US');

const MAX_VALUE_BYTES = 16_384;
const SHARD = 'game';
const BOARD = demoStateName;
/** Unique events per burst: a tenth of a second's worth. */
const burstSize = Math.max(1, Math.round(settings.rate / 10));

async function main(): Promise<number> {
  const run = randomInt(0, 2 ** 24).toString(16);
  const topic = `seqguard-soak-${run}`;
  const prefix = `soak${run}`;
  const groupId = `seqguard-soak-${run}`;
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

  // Servers: Redis (with AOF), the producer's own Redis, the broker.
  const aof = ['--appendonly', 'yes', '--appendfsync', 'everysec'];
  let server: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  if (topology === 'single') {
    server = await startRedisServer({ secure, args: aof });
    const s = server;
    resources.defer(() => s.dispose());
  } else {
    cluster = await startRedisCluster(3, {
      replicasPerMaster: 1,
      secure,
      // Past the sink's 2 s command timeout a freeze fails commands; a failover needs 5 s.
      serverArgs: [
        ...aof,
        '--cluster-node-timeout',
        String(clusterNodeTimeoutMs),
        '--cluster-replica-validity-factor',
        '0',
      ],
    });
    const c = cluster;
    resources.defer(() => c.dispose());
  }
  const access = server?.access ?? cluster?.access;
  const counterServer = await startRedisServer({ secure, args: aof });
  resources.defer(() => counterServer.dispose());
  const broker = await startKafkaBroker({ security: secure ? 'msk-iam' : 'plaintext' });
  resources.defer(() => broker.stop());
  const kafka = kafkaClientsOf(broker, 'plaintext, no authentication (--plaintext)');
  const secured = access ? await secureRedisAccess(access, resources) : undefined;
  const redisSecurity = secured?.security ?? 'plaintext, no authentication (--plaintext)';

  const admin: Admin = createAdmin({ clientId: 'seqguard-soak', ...kafka.connection });
  resources.defer(() => admin.close());
  await admin.createTopics({ topics: [topic], partitions: settings.partitions, replicas: 1 });

  // The sink reaches a single Redis through the proxy (latency, dropped connections).
  let proxy: TcpProxy | undefined;
  let onSinkChunk: (bytes: number) => void = () => {};
  if (server) {
    proxy = await startTcpProxy({ targetPort: server.port, onClientChunk: (b) => onSinkChunk(b) });
    const p = proxy;
    resources.defer(() => p.close());
  }
  const redisUrl = (server ? server.url : (cluster as RedisCluster).url) as string;
  const sinkUrl = proxy ? redisUrl.replace(`:${server?.port}`, `:${proxy.port}`) : redisUrl;
  const functionEnv: Record<string, string> = {
    REDIS_URL: sinkUrl,
    ...(cluster ? { SEQGUARD_REDIS_CLUSTER: 'true' } : {}),
    ...secured?.functionEnv,
    ...kafka.functionEnv,
    SEQGUARD_FORMAT: 'envelope',
    SEQGUARD_KEY_PREFIX: prefix,
    SEQGUARD_DEFAULT_SHARD: SHARD,
    SEQGUARD_CHUNK_SIZE: '100',
    SEQGUARD_REDIS_TIMEOUT_MS: String(sinkCommandTimeoutMs),
    SEQGUARD_STREAM_MAX_LEN: '200000',
    SEQGUARD_MAX_VALUE_BYTES: String(MAX_VALUE_BYTES),
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
  const sink = loadSinkConfig({ ...functionEnv, REDIS_URL: redisUrl });
  const clientOf = (timeoutMs: number): RedisClient => {
    const client = createRedisClient({
      ...sink.redis,
      commandTimeoutMs: timeoutMs,
      ...secured?.clientOptions,
      onError: () => {},
    });
    resources.defer(async () => client.disconnect());
    return client;
  };
  const redis = clientOf(10_000);
  const monitorRedis = clientOf(5_000);
  say(
    `redis   ${redisUrl}${proxy ? ` (the sink through a proxy on ${proxy.port})` : ''}: ${redisSecurity}`,
  );
  say(`kafka   ${kafka.connection.bootstrapBrokers.join(',')}: ${kafka.security}`);
  say(`topic   ${topic}, ${settings.partitions} partitions; key prefix ${prefix}`);

  // The function, through the event source mapping emulator.
  const handlerCounts = { applied: 0, duplicates: 0, deadLettered: 0, late: 0 };
  let lastFunctionError = '';
  const activity = { invocations: 0, functionErrors: 0, killsSent: 0, killsHit: 0 };
  const bootstrap = kafka.connection.bootstrapBrokers.join(',');
  const security = kafka.connection.mskIam
    ? { mskIam: kafka.connection.mskIam, tlsCaPem: kafka.connection.tlsCaPem as string }
    : undefined;
  const pipelineOptions = {
    bootstrap,
    ...(security ? { security } : {}),
    topics: [topic],
    batchSize: 500,
    batchWindowMs: 100,
    retryBackoffMs: 200,
    functionEnv,
  };

  // Sink kills: armed by the schedule, sent at their point, re-armed until one hits a batch.
  const armed: ScheduledFault[] = [];
  let killInFlight: ScheduledFault | undefined;
  const invocationMs: number[] = [];
  let pipeline: Pipeline;
  const killSink = (fault: ScheduledFault) => {
    if (killInFlight || !pipeline.sandbox.busy) return false;
    if (!pipeline.sandbox.kill('SIGKILL')) return false;
    armed.splice(armed.indexOf(fault), 1);
    killInFlight = fault;
    activity.killsSent += 1;
    return true;
  };
  const armedAt = (point: string) => armed.find((f) => f.point === point);
  onSinkChunk = (bytes) => {
    // A large request from the sink is the guard's EVALSHA (its events travel as one argument).
    const fault = armedAt('inGuardCall');
    if (fault && bytes >= 2_048) killSink(fault);
  };
  pipeline = startPipeline({
    ...pipelineOptions,
    groupId,
    onFunctionOutput: (line) => {
      if (line.includes('"level":"ERROR"')) lastFunctionError = line.slice(0, 500);
      if (!line.includes('"batch applied"')) return;
      const entry = JSON.parse(line) as Record<string, number>;
      for (const key of Object.keys(handlerCounts) as (keyof typeof handlerCounts)[])
        handlerCounts[key] += entry[key] ?? 0;
      // The batch is applied and its response not yet sent: between the guard and the commit.
      const fault = armedAt('afterGuard');
      if (fault) killSink(fault);
    },
    onActivity: (a: EsmActivity) => {
      if (a.kind === 'pollerError') lastFunctionError = `the poller failed: ${a.error.message}`;
      if (a.kind !== 'invoked') return;
      activity.invocations += 1;
      if (a.outcome === 'functionError') {
        activity.functionErrors += 1;
        if (a.detail) lastFunctionError = a.detail;
      }
      if (a.outcome === 'success') {
        invocationMs.push(a.durationMs);
        if (invocationMs.length > 200) invocationMs.shift();
      }
      if (killInFlight) {
        const fault = killInFlight;
        killInFlight = undefined;
        if (a.outcome === 'functionError' && /SIGKILL/.test(a.detail ?? '')) activity.killsHit += 1;
        else armed.push(fault); // it reached the sandbox after the invocation ended: again
      }
    },
    onInvoke: (sandbox) => {
      const fault = armedAt('midInvocation');
      if (!fault) return;
      const sorted = [...invocationMs].sort((x, y) => x - y);
      const median = sorted[Math.floor(sorted.length / 2)] ?? 20;
      setTimeout(() => sandbox.busy && killSink(fault), Math.random() * median);
    },
  });
  resources.defer(() => pipeline.stop());
  let halted: Error | undefined;
  void pipeline.mapping.halted.then((error) => {
    halted = error;
  });
  await Promise.race([
    pipeline.sandbox.warmUp(),
    pipeline.mapping.halted.then((e) => Promise.reject(e)),
  ]);
  say(`function started (handler process ${pipeline.sandbox.pid})`);

  // check-drift on its schedule, repairing what Redis lost.
  const alarms: AlarmMark[] = [];
  const monitor = new DriftMonitor({
    dependencies: {
      kafka: { clientId: 'seqguard-soak-drift', ...kafka.connection },
      redis: monitorRedis,
      ports: createSinkPorts(monitorRedis, sink.guard),
      sink,
    },
    check: {
      topics: [topic],
      consumerGroup: groupId,
      autoReplay: true,
      replayLimit: 50_000,
      maxStateEntries: 1_000_000,
      // As the deployed check-drift, which repairs while its invocation has time.
      repairBudgetMs: 40_000,
    },
    thresholds: defaultThresholds,
    intervalMs: settings.checkIntervalMs,
    onTransition: (t) => {
      alarms.push({ at: t.at - started, alarm: t.metric, to: t.to, value: t.value });
      say(`alarm   ${t.metric} ${t.from} -> ${t.to} (${t.value})`);
    },
    onReport: (report) => {
      if (report.replay) {
        replays.runs += 1;
        replays.records += report.replay.records;
        replays.applied += report.replay.summary.applied;
      }
    },
  });
  const replays = { runs: 0, records: 0, applied: 0 };
  monitor.start();
  resources.defer(() => monitor.stop());

  // The producer, in its own process, with durable seq counters.
  const soakModel = new SoakModel();
  let currentDrafts: ReturnType<typeof soakBursts> extends Generator<infer D> ? D : never = [];
  const producer = new SoakProducer(
    {
      topic,
      kafka: { clientId: 'seqguard-soak', ...kafka.connection },
      counters: {
        url: counterServer.url,
        cluster: false,
        commandTimeoutMs: 5_000,
        ...(counterServer.access
          ? {
              username: counterServer.access.username,
              password: counterServer.access.password,
              tlsCaFile: counterServer.access.caFile,
            }
          : {}),
      },
      keyPrefix: prefix,
    },
    (stamps) => soakModel.add(currentDrafts, stamps),
  );
  resources.defer(() => producer.stop());

  // Faults, at their points of the traffic: serial ones one after another.
  const faultMarks: FaultMark[] = [];
  const done = { sinkKill: 0 } as Record<string, number>;
  let lostWritesFaults = 0;
  let lostApplied = 0;
  let serialChain: Promise<void> = Promise.resolve();
  let faultError: Error | undefined;
  const ctx: FaultContext = {
    broker,
    redis: server
      ? { kind: 'single', server }
      : { kind: 'cluster', cluster: cluster as RedisCluster },
    shardKey: stateKey(SHARD, BOARD, prefix),
    metaKey: shardKeys(SHARD, prefix).meta,
    proxy,
    startStorm: (i) =>
      startPipeline({
        ...pipelineOptions,
        groupId: `${groupId}-storm-${i}`,
        startingPosition: 'TRIM_HORIZON',
      }),
    armSinkKill: (fault) => armed.push(fault),
    armProducerKill: async (i) => {
      const phase = i % 2 === 0 ? 'sending' : 'stamping';
      producer.armKill(phase, () => say(`fault   producer SIGKILLed while ${phase}`));
      return `armed while ${phase}`;
    },
  };
  let faultNumber = 0;
  const fire = (fault: ScheduledFault) => {
    const i = faultNumber++;
    const work = async () => {
      const at = elapsed();
      const mark: FaultMark = { at, kind: fault.kind, label: faultKinds[fault.kind], detail: '' };
      faultMarks.push(mark);
      try {
        const outcome = await runFault(fault, ctx, i);
        mark.detail = outcome.detail;
        if (outcome.lasting) mark.endAt = elapsed();
        if (outcome.lostApplied > 0) {
          lostWritesFaults += 1;
          lostApplied += outcome.lostApplied;
          mark.detail += `; Redis lost ${n(outcome.lostApplied)} acknowledged events' effects`;
        }
        done[fault.kind] = (done[fault.kind] ?? 0) + (fault.kind === 'sinkKill' ? 0 : 1);
        if (fault.kind !== 'sinkKill') say(`fault   ${faultKinds[fault.kind]}: ${mark.detail}`);
      } catch (error) {
        mark.detail = `failed: ${(error as Error).message}`;
        faultError = new SoakError(
          `the fault "${faultKinds[fault.kind]}" failed: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    };
    if (serialKinds.has(fault.kind)) serialChain = serialChain.then(work);
    else void work();
  };
  const snapshots = schedule
    .filter((f) => f.kind === 'redisRollback')
    .map((f) => f.snapshotAt as number);
  const pending = [...schedule];
  const fireDue = (published: number) => {
    while (snapshots.length > 0 && (snapshots[0] as number) <= published) {
      snapshots.shift();
      serialChain = serialChain.then(async () => {
        const detail = await takeSnapshot(ctx).catch((e: Error) => `failed: ${e.message}`);
        faultMarks.push({
          at: elapsed(),
          kind: 'snapshot',
          label: 'snapshot taken (for a rollback)',
          detail,
        });
      });
    }
    while (pending.length > 0 && (pending[0] as ScheduledFault).at <= published)
      fire(pending.shift() as ScheduledFault);
  };

  // Sampling: a point a second for the report, invariants and a line now and then.
  const series: SeriesPoint[] = [];
  const stream = shardKeys(SHARD, prefix).stream;
  let lastEntry = '-';
  let lastSample = { t: 0, applied: 0, published: 0 };
  let consumerLag: number | null = null;
  let maxLag = 0;
  const invariant = { samples: 0, checked: 0, aboveModel: 0 };
  const sampleRandom = seededRandom(settings.seed ^ 0x1234);
  const logEnds = async () => {
    const ranges = await partitionRanges(admin, [topic]);
    return new Map(ranges.map((r) => [topicPartition(r), r.end]));
  };
  const sample = async () => {
    const t = elapsed();
    try {
      let lag = 0n;
      for (const [id, end] of await logEnds())
        lag += end - (pipeline.mapping.committed.get(id) ?? 0n);
      consumerLag = Number(lag);
      maxLag = Math.max(maxLag, consumerLag);
    } catch {
      consumerLag = null; // the broker is away
    }
    const histogram = new Map<number, number>();
    let entries = 0;
    try {
      const page = await redis.xrange(
        stream,
        lastEntry === '-' ? '-' : `(${lastEntry}`,
        '+',
        'COUNT',
        20_000,
      );
      for (const latency of entryLatencies(page)) {
        histogram.set(latency, (histogram.get(latency) ?? 0) + 1);
        entries += 1;
      }
      if (page.length > 0) lastEntry = (page.at(-1) as [string, string[]])[0];
    } catch {
      // Redis is away: no latency this second.
    }
    const seconds = Math.max(0.001, (t - lastSample.t) / 1000);
    series.push({
      t,
      appliedPerSecond: Math.round((handlerCounts.applied - lastSample.applied) / seconds),
      publishedPerSecond: Math.round((soakModel.model.unique - lastSample.published) / seconds),
      consumerLag,
      p50Ms: entries ? histogramPercentile(histogram, entries, 50) : null,
      p99Ms: entries ? histogramPercentile(histogram, entries, 99) : null,
      alarmsFiring: Object.values(monitor.states).filter((s) => s === 'ALARM').length,
    });
    lastSample = { t, applied: handlerCounts.applied, published: soakModel.model.unique };
  };
  /** No score and no cursor in Redis is ever above the model's (read Redis first: the model only grows). */
  const checkInvariants = async () => {
    const players = soakModel.players();
    if (players.length === 0) return;
    const picked = Array.from(
      { length: 50 },
      () => players[Math.floor(sampleRandom() * players.length)] as string,
    );
    try {
      const scores = (await redis.call('ZMSCORE', stateKey(SHARD, BOARD, prefix), ...picked)) as (
        | string
        | null
      )[];
      const cursors = await redis.hmget(
        shardKeys(SHARD, prefix).cursors,
        ...picked.map((p) => cursorField({ scope: p }, { topic: '', partition: 0 })),
      );
      invariant.samples += 1;
      picked.forEach((player, i) => {
        invariant.checked += 1;
        const score = Number(scores[i] ?? 0);
        const cursor = BigInt(cursors[i] ?? 0);
        if (score > soakModel.scoreOf(player) || cursor > soakModel.cursorOf(player))
          invariant.aboveModel += 1;
      });
    } catch {
      // Redis is away: sampled again later.
    }
  };
  const redisFaultCount = () =>
    Object.entries(done).reduce(
      (sum, [k, c]) => sum + (redisFaults.has(k as FaultKind) ? c : 0),
      0,
    );
  const line = () =>
    say(
      `published ${n(soakModel.model.unique)}/${n(settings.events)}  applied ${n(handlerCounts.applied)}  lag ${consumerLag ?? '?'}  kills hit ${activity.killsHit}/${counts.sinkKill ?? 0}` +
        `  redis faults ${redisFaultCount()} (${lostWritesFaults} lost writes)  broker restarts ${done.brokerRestart ?? 0}  repairs ${replays.runs}` +
        `  alarms ${
          Object.entries(monitor.states)
            .filter(([, s]) => s === 'ALARM')
            .map(([a]) => a)
            .join(',') || 'none'
        }`,
    );
  let ticks = 0;
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    void (async () => {
      await sample();
      if (++ticks % 5 === 0) {
        await checkInvariants();
        line();
      }
    })().finally(() => {
      sampling = false;
    });
  }, 1_000);
  resources.defer(async () => clearInterval(sampler));

  // Publish, paced, firing the faults as their points come.
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
    if (halted) throw halted;
    if (faultError) throw faultError;
    const tick = performance.now();
    currentDrafts = drafts;
    await producer.publish(burstNumber++, drafts);
    fireDue(soakModel.model.unique);
    const rest = interval - (performance.now() - tick);
    if (rest > 0) await sleep(rest);
  }
  say('published; waiting for the faults to end, the sink to catch up and the repairs to finish');
  fireDue(Number.POSITIVE_INFINITY);
  await serialChain;
  // Sink kills still armed at the end go on while the last records are consumed.
  if (faultError) throw faultError;

  // Caught up: every partition committed to its end, and a drift check finds nothing to repair.
  const STALL_MS = 180_000;
  let lastProgress = Date.now();
  let lastState = '';
  for (;;) {
    if (halted) throw halted;
    const ends = await logEnds().catch(() => undefined);
    const committedAll =
      ends && [...ends].every(([id, end]) => pipeline.mapping.committed.get(id) === end);
    const report = monitor.lastReport;
    if (
      committedAll &&
      report &&
      Date.parse(report.checkedAt) > Date.now() - settings.checkIntervalMs * 2
    ) {
      const v = report.values;
      if (
        v.redisBehindRecords === 0 &&
        v.commitAheadRecords === 0 &&
        v.appliedLagRecords === 0 &&
        armed.length === 0
      )
        break;
    }
    const state = `${[...pipeline.mapping.committed.values()].join(',')}/${replays.records}`;
    if (state !== lastState) {
      lastState = state;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > STALL_MS) {
      throw new SoakError(
        `no progress for ${STALL_MS / 1000} s (armed kills: ${armed.length}); the function's last error: ${lastFunctionError || 'none'}`,
      );
    }
    await sleep(500);
  }
  clearInterval(sampler);
  await sample();
  await pipeline.stop();
  await monitor.stop();
  const finalCheck = await monitor.checkOnce();
  say('caught up; checking Redis against the model of the unique events');

  // The verdict, from the state, in pages.
  const model = soakModel.model;
  const verdict = await checkAgainstModel(redis, model, {
    shard: SHARD,
    stateName: BOARD,
    keyPrefix: prefix,
    expectedGaps: soakModel.expectedGaps,
  });
  const letters = await checkDeadLetters(redis, deadLetterKeys(prefix).stream, topic);
  const deadLettersExact = letters.entries === model.malformed && letters.outOfOrder === 0;

  const killsOk = activity.killsHit >= (counts.sinkKill ?? 0);
  const ok =
    verdict.ok &&
    deadLettersExact &&
    invariant.aboveModel === 0 &&
    finalCheck.values.redisBehindRecords === 0 &&
    killsOk;
  const faultTotal = (kind: FaultKind) => `${done[kind] ?? 0}`;
  const verdictRows: [string, string, boolean][] = [
    ['LOST', String(verdict.lost), verdict.lost === 0],
    ['DUPLICATED', String(verdict.duplicated), verdict.duplicated === 0],
    ['players whose score is wrong', String(verdict.wrongScores), verdict.wrongScores === 0],
    ['running totals match the model', verdict.totalsMatch ? 'yes' : 'NO', verdict.totalsMatch],
    ['open sequence gaps (unexpected)', String(verdict.openGaps), verdict.openGaps === 0],
    [
      'dead letters (exactly one per malformed record)',
      `${n(letters.entries)} of ${n(model.malformed)}${letters.outOfOrder ? `, ${letters.outOfOrder} out of order` : ''}`,
      deadLettersExact,
    ],
    [
      'sampled during the run: a score or cursor above the model',
      `${invariant.aboveModel} of ${n(invariant.checked)} (${invariant.samples} samples)`,
      invariant.aboveModel === 0,
    ],
    [
      'RedisBehindKafka at the end',
      String(finalCheck.values.redisBehindRecords),
      finalCheck.values.redisBehindRecords === 0,
    ],
    [
      'sink kills that hit a batch',
      `${activity.killsHit} (of ${activity.killsSent} sent; ${counts.sinkKill ?? 0} scheduled)`,
      killsOk,
    ],
  ];
  const byReason = [...letters.byReason].map(([r, c]) => `${r} ${c}`).join(', ');
  const summaryRows: [string, string][] = [
    [
      'seed',
      `${settings.seed} (npm run soak -- ${quick ? '--quick ' : ''}${cluster ? '--cluster ' : ''}--seed ${settings.seed})`,
    ],
    [
      'redis',
      `${cluster ? 'Redis Cluster, 3 masters with a replica each' : 'one redis-server'}, AOF; ${redisSecurity}`,
    ],
    ['kafka', kafka.security],
    [
      'events (unique) / records published',
      `${n(model.unique)} / ${n(model.records)} (${n(model.resends)} producer resends, ${n(model.late)} sent late, ${n(model.malformed)} malformed)`,
    ],
    ["events applied (the guard's count)", n(verdict.applied)],
    [
      'malformed records by kind',
      [...soakModel.malformedByKind].map(([k, c]) => `${k} ${c}`).join(', ') || 'none',
    ],
    ['dead letters by reason', byReason || 'none'],
    [
      'seqs drawn by a killed producer, never sent (expected open gaps)',
      `${soakModel.skippedSeqs} seqs in ${verdict.expectedGaps} gaps`,
    ],
    ['sink kills sent / hit a batch', `${activity.killsSent} / ${activity.killsHit}`],
    ['producer kills (restarts)', `${producer.kills} (${producer.starts - 1})`],
    [
      'redis faults / of them lost acknowledged writes',
      `${redisFaultCount()} / ${lostWritesFaults} (${n(lostApplied)} acknowledged events' effects lost and repaired)`,
    ],
    ...(Object.keys(faultKinds) as FaultKind[])
      .filter((k) => k !== 'sinkKill' && counts[k])
      .map((k): [string, string] => [`  ${faultKinds[k]}`, faultTotal(k)]),
    ['check-drift repairs (replays) / records replayed', `${replays.runs} / ${n(replays.records)}`],
    ['invocations / function errors', `${n(activity.invocations)} / ${n(activity.functionErrors)}`],
    ['max consumer lag', `${n(maxLag)} records`],
    [
      'alarms raised / cleared',
      `${alarms.filter((a) => a.to === 'ALARM').length} / ${alarms.filter((a) => a.to === 'OK').length}`,
    ],
    ['wall time', `${clock(elapsed())} (${(elapsed() / 1000).toFixed(0)} s)`],
  ];
  void losesAcknowledgedWrites;

  const reportFile = resolve(
    flags.report ?? `.cache/soak/soak-${topology}-seed${settings.seed}.html`,
  );
  await mkdir(dirname(reportFile), { recursive: true });
  await writeFile(
    reportFile,
    buildReport({
      title: `seqguard soak, ${topology === 'cluster' ? 'Redis Cluster' : 'single Redis'}, seed ${settings.seed}`,
      startedAt: new Date(started).toISOString(),
      verdict: verdictRows,
      summary: summaryRows,
      series,
      faults: faultMarks,
      alarms,
      ok,
    }),
  );
  const width = Math.max(...[...verdictRows, ...summaryRows].map(([k]) => k.length));
  console.log('\nsummary');
  for (const [k, v] of summaryRows) console.log(`  ${k.padEnd(width)}  ${v}`);
  console.log('\nverdict');
  for (const [k, v, pass] of verdictRows)
    console.log(`  ${k.padEnd(width)}  ${v}${pass ? '' : '   <- FAILED'}`);
  console.log(`\nreport  ${reportFile}`);
  console.log(
    ok
      ? '\nOK: every event applied exactly once, through every fault.'
      : '\nFAILED: see the verdict above.',
  );
  return ok ? 0 : 1;
}

await runMain('soak', resources, main);
