/**
 * `npm run demo`: the whole pipeline on real parts, with a crash in the middle, then a check
 * that Redis holds exactly the effects of the unique events.
 *
 * Starts a redis-server and a Kafka broker (or uses REDIS_URL / KAFKA_BROKERS), publishes
 * events in the seed article's format {sequence_id, player_id, delta} through the hardened
 * producer at a steady rate (with producer resends, late events and malformed records mixed in),
 * and at --wallet-rate wallet events in the envelope format (coins won, debits, transfers between
 * players, all in the ledger's one scope) to a second topic. The sink decodes one format per
 * deployment, so each topic has its function: the real apply-events handler, configured for the
 * seed format and for the envelope, each behind its own event source mapping (--wallet-rate 0:
 * no wallet events, no second topic, no second function). It SIGKILLs the
 * leaderboard's handler mid-batch, waits until every partition is committed, and checks the
 * leaderboard, the balances, the cursors, the gaps, the refusals and the running totals against
 * a model of the unique events, which says which debits and transfers the guard refuses for want
 * of coins. Exits non-zero on any loss or duplicate.
 *
 * Fails within seconds, with the reason and what to install or set, when a server cannot be
 * started or reached or the function cannot start; fails when the pipeline makes no progress.
 * Stops everything it started on every way out: the end, an error, Ctrl-C, SIGTERM, SIGHUP.
 *
 *   node local/demo/main.ts [--events 10000] [--partitions 3] [--players 1000] [--rate 2500]
 *                      [--duplicate-rate 0.02] [--gap-rate 0.01] [--malformed-rate 0.002]
 *                      [--wallet-rate 0.05] [--kills 1] [--batch-size 100]
 *                      [--batch-window-ms 100] [--json]
 *
 * SEQGUARD_* and POWERTOOLS_* variables of the demo's environment reach the functions and win
 * over the demo's own settings (for example SEQGUARD_STREAM_MAX_LEN or SEQGUARD_CHUNK_SIZE),
 * except that the wallet's function always decodes the envelope format.
 * --json adds a line `RESULT {…}` with the measurements, for bench/
 * --batch-window-ms 0 runs the trigger in low-latency mode (Lambda developer guide, "Low latency
 * processing for Kafka event sources"): a batch goes to the function as soon as records arrive.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  applyRecorded,
  createAdmin,
  createReader,
  createRedisClient,
  deadLetterKeys,
  decodeStreamEntry,
  emptyStateModel,
  entryMutation,
  mergePositions,
  NotUpToBoundError,
  positionOf,
  positionToken,
  type RedisClient,
  shardKeys,
  topicPartition,
} from '../../core/index.ts';

import { createProducer, type OutgoingEvent, publishEvents } from '../../core/producer/index.ts';
import { startKafkaBroker } from '../emulators/kafka/broker.ts';
import type { EsmStats } from '../emulators/lambda/event-source-mapping.ts';
import {
  type FunctionSandbox,
  localSandboxKind,
  type Pipeline,
  type PipelineOptions,
  sandboxSummary,
  startPipeline,
} from '../emulators/pipeline.ts';
import { startRedisServer } from '../emulators/redis/server.ts';
import { exitOnHelp, numberFlag, secureRequested } from '../scenario/cli-flags.ts';
import { DemoError } from '../scenario/errors.ts';
import { percentile, startedLine } from '../scenario/function-rows.ts';
import { explain, runMain, within as withinDeadline } from '../scenario/run.ts';
import {
  type KafkaClients,
  kafkaClientsOf,
  secureRedisAccess,
} from '../scenario/secured-clients.ts';
import { streamLatency } from '../scenario/stream-latency.ts';
import { streamOutcomes } from '../scenario/stream-outcomes.ts';
import {
  demoStateName,
  type Model,
  modelOf,
  trafficBursts,
  walletStateName,
} from '../scenario/traffic-model.ts';
import { checkAgainstModel } from '../scenario/verdict.ts';
import { demoReport, type Measurements, type Watch } from './report.ts';

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    partitions: { type: 'string', default: '3' },
    players: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '2500' },
    'duplicate-rate': { type: 'string', default: '0.02' },
    'gap-rate': { type: 'string', default: '0.01' },
    'malformed-rate': { type: 'string', default: '0.002' },
    'wallet-rate': { type: 'string', default: '0.05' },
    kills: { type: 'string', default: '1' },
    // Smaller batches and window than the deployed trigger's (core/config/trigger.ts: 500, 1 s):
    // 10,000 events then make about a hundred invocations, so the crash lands inside one.
    'batch-size': { type: 'string', default: '100' },
    'batch-window-ms': { type: 'string', default: '100' },
    json: { type: 'boolean', default: false },
    plaintext: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

exitOnHelp(
  flags.help,
  'usage: npm run demo -- [--events N] [--partitions N] [--players N] [--rate events/s]\n' +
    '       [--duplicate-rate R] [--gap-rate R] [--malformed-rate R] [--wallet-rate R]\n' +
    '       [--kills N] [--batch-size N]\n' +
    '       [--batch-window-ms MS]   (0: low-latency mode, a batch goes as soon as records arrive) [--json]\n' +
    '       [--plaintext]   (or SEQGUARD_PLAINTEXT=1: no TLS, no auth; the fast path)',
);

const settings = {
  events: numberFlag(flags, 'events', { min: 1, max: 10_000_000 }),
  partitions: numberFlag(flags, 'partitions', { min: 1, max: 64 }),
  players: numberFlag(flags, 'players', { min: 1, max: 1_000_000 }),
  rate: numberFlag(flags, 'rate', { min: 1, max: 1_000_000 }),
  duplicateRate: numberFlag(flags, 'duplicate-rate', { min: 0, max: 1 }),
  gapRate: numberFlag(flags, 'gap-rate', { min: 0, max: 1 }),
  malformedRate: numberFlag(flags, 'malformed-rate', { min: 0, max: 1 }),
  walletRate: numberFlag(flags, 'wallet-rate', { min: 0, max: 1 }),
  kills: numberFlag(flags, 'kills', { min: 0, max: 100 }),
  batchSize: numberFlag(flags, 'batch-size', { min: 1, max: 10_000 }),
  batchWindowMs: numberFlag(flags, 'batch-window-ms', { min: 0, max: 300_000 }),
};

/** Everything started, disposed in reverse order, once, on the way out or on Ctrl-C. */
const resources = new AsyncDisposableStack();

const say = (line: string) => console.log(line);

/** The function's settings: the demo's own, then the caller's SEQGUARD_* and POWERTOOLS_*. */
function functionEnv(
  redis: OpenRedis,
  kafka: KafkaClients,
  prefix: string,
): Record<string, string> {
  const passed = Object.entries(process.env).filter(
    ([name, value]) => /^(SEQGUARD|POWERTOOLS)_/.test(name) && value !== undefined,
  ) as [string, string][];
  return {
    REDIS_URL: redis.url,
    ...redis.functionEnv,
    ...kafka.functionEnv,
    SEQGUARD_FORMAT: 'mapped',
    SEQGUARD_KEY_PREFIX: prefix,
    SEQGUARD_DEFAULT_SHARD: 'game',
    // Small chunks: a batch is several script executions, so a crash can fall between them.
    SEQGUARD_CHUNK_SIZE: '20',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    ...Object.fromEntries(passed),
  };
}

/** Rejects after `ms` with a DemoError, unless `work` settles first. */
const within = <T>(ms: number, message: string, work: Promise<T>) =>
  withinDeadline(ms, message, work, (m) => new DemoError(m));

/** The production shape by default, as in AWS; `--plaintext` is the fast path. */
const secure = secureRequested(flags.plaintext);

interface OpenRedis {
  url: string;
  redis: RedisClient;
  /** What the function needs besides REDIS_URL: the secret's ARN and the CA, when secure. */
  functionEnv: Record<string, string>;
  /** How the connections to Redis are secured, for the report. */
  security: string;
}

/**
 * A redis-server started here, or the one REDIS_URL names, checked to answer within 5 s. The
 * server started here gives its app user the deployed access string for the demo's key prefix.
 */
async function openRedis(keyPrefix: string): Promise<OpenRedis> {
  const external = process.env.REDIS_URL || undefined;
  const server = external ? undefined : await startRedisServer({ secure, keyPrefix });
  if (server) resources.defer(() => server.dispose());
  const url = external ?? (server?.url as string);
  const access = server?.access;
  const secured = access ? await secureRedisAccess(access, resources) : undefined;
  const functionEnv = secured?.functionEnv ?? {};
  const security =
    secured?.security ??
    (external
      ? 'as REDIS_URL says (the demo adds no credentials)'
      : 'plaintext, no authentication (--plaintext)');
  let lastError: Error | undefined;
  const redis = createRedisClient({
    url,
    cluster: false,
    commandTimeoutMs: 5_000,
    ...secured?.clientOptions,
    // A REDIS_URL with a private CA's certificate: the CA the function is given too.
    ...(external && process.env.SEQGUARD_REDIS_CA_FILE
      ? { tlsCaFile: process.env.SEQGUARD_REDIS_CA_FILE }
      : {}),
    onError: (error) => {
      lastError = error;
    },
  });
  resources.defer(async () => redis.disconnect());
  await within(
    5_000,
    `Redis at ${url} did not answer within 5 s${lastError ? ` (${lastError.message})` : ''}; ` +
      'unset REDIS_URL to let the demo start its own redis-server, or point it at a running Redis',
    redis.ping(),
  ).catch((error: Error) => {
    throw new DemoError(
      `cannot reach Redis at ${url}${server ? '' : ' (REDIS_URL)'}: ${explain(lastError ?? error)}`,
    );
  });
  say(`redis   ${url}${server ? ' (started here)' : ' (REDIS_URL)'}`);
  return { url, redis, functionEnv, security };
}

/** A broker started here, or the one KAFKA_BROKERS names; makes the demo's topics. */
async function openKafka(topics: string[]): Promise<KafkaClients> {
  const external = Boolean(process.env.KAFKA_BROKERS);
  const kafka = await startKafkaBroker({ security: secure && !external ? 'msk-iam' : 'plaintext' });
  resources.defer(() => kafka.stop());
  const { connection, functionEnv, security } = kafkaClientsOf(
    kafka,
    external
      ? 'plaintext (KAFKA_BROKERS names plaintext brokers)'
      : 'plaintext, no authentication (--plaintext)',
  );
  const admin = createAdmin(
    { clientId: 'seqguard-demo', ...connection },
    { retries: 1, timeout: 5_000 },
  );
  resources.defer(() => admin.close());
  const address = connection.bootstrapBrokers.join(',');
  await within(
    15_000,
    `Kafka at ${address} did not answer within 15 s`,
    admin.createTopics({ topics, partitions: settings.partitions, replicas: 1 }),
  ).catch((error: Error) => {
    throw new DemoError(
      `cannot create the demo topic on Kafka at ${address}${external ? ' (KAFKA_BROKERS)' : ''}: ${explain(error)}`,
    );
  });
  say(`kafka   ${address}${external ? ' (KAFKA_BROKERS)' : ' (started here)'}`);
  return { connection, functionEnv, security };
}

function newWatch(): Watch {
  return {
    handlerCounts: {
      applied: 0,
      duplicates: 0,
      refused: 0,
      deadLettered: 0,
      late: 0,
      gapsOpened: 0,
    },
    lastFunctionError: '',
    activity: [],
    successTimes: [],
    kills: [],
    produced: new Map(),
    position: [],
    publishedRecords: 0,
    maxLag: 0,
  };
}

/**
 * The demo's functions, each behind its own event source mapping: the leaderboard's (the seed
 * format, the one the demo crashes) and the wallet's (the envelope format), unless the traffic
 * has no wallet events.
 */
interface Pipelines {
  leaderboard: Pipeline;
  wallet?: Pipeline | undefined;
}

/** The demo's topics: the wallet's only when the traffic has wallet events. */
interface Topics {
  leaderboard: string;
  wallet?: string | undefined;
}

const all = (pipelines: Pipelines): Pipeline[] =>
  pipelines.wallet ? [pipelines.leaderboard, pipelines.wallet] : [pipelines.leaderboard];

/** The next offset to read that the mappings committed for a topic-partition. */
function committedOf(pipelines: Pipelines, id: string): bigint | undefined {
  for (const pipeline of all(pipelines)) {
    const committed = pipeline.mapping.committed.get(id);
    if (committed !== undefined) return committed;
  }
  return undefined;
}

/** Records the pipelines have yet to commit, over every partition published to. */
function committedLag(watch: Watch, pipelines: Pipelines): number {
  let lag = 0n;
  for (const [id, end] of watch.produced) lag += end - (committedOf(pipelines, id) ?? 0n);
  return Number(lag);
}

/**
 * A check that throws an event source mapping's halt (a function that cannot start) once it
 * happened, for the steps that wait on the pipelines.
 */
function haltCheck(pipelines: Pipelines): () => void {
  let haltedError: Error | undefined;
  for (const pipeline of all(pipelines)) {
    pipeline.mapping.halted.then((error) => {
      haltedError ??= error;
    });
  }
  return () => {
    if (haltedError) throw haltedError;
  };
}

/** Adds a function's counts from its structured log line per batch; notes its errors. */
function watchFunctionOutput(watch: Watch): (line: string) => void {
  return (line) => {
    if (line.includes('"level":"ERROR"')) watch.lastFunctionError = line;
    if (!line.includes('"batch applied"')) return;
    const entry = JSON.parse(line) as Record<string, number>;
    for (const key of Object.keys(watch.handlerCounts) as (keyof Watch['handlerCounts'])[]) {
      watch.handlerCounts[key] += entry[key] ?? 0;
    }
  };
}

/** Resolves once the pipeline's function finished its cold start; rejects if it cannot start. */
async function started(pipeline: Pipeline): Promise<void> {
  const halted = pipeline.mapping.halted.then((error) => {
    throw error;
  });
  halted.catch(() => {});
  // The function's cold start (loading its modules) happens before the first event, as it
  // would for a deployed function that has served traffic before.
  await Promise.race([pipeline.warmUp(), halted]);
  await Promise.race([pipeline.mapping.ready, halted]);
}

/**
 * Step: the real apply-events handler, each behind the event source mapping emulator: for the
 * leaderboard's topic (the seed format) with the crash, half way through an invocation (by the
 * median so far), once a share of the events is out, so that the batch dies with some of its
 * chunks applied; and for the wallet's topic (the envelope format), when there is one. Resolves
 * once the cold starts are done; a function that cannot start stops the demo here, with its own
 * error.
 */
async function startPipelines(
  watch: Watch,
  {
    kafka,
    redis,
    topics,
    run,
    prefix,
    records,
  }: {
    kafka: KafkaClients;
    redis: OpenRedis;
    topics: Topics;
    run: string;
    prefix: string;
    records: number;
  },
): Promise<Pipelines> {
  const onFunctionOutput = watchFunctionOutput(watch);
  let killsLeft = settings.kills;
  let killInFlight = false;
  const medianInvocationMs = (): number => {
    const durations = watch.activity
      .flatMap((a) => (a.kind === 'invoked' && a.outcome === 'success' ? [a.durationMs] : []))
      .sort((a, b) => a - b);
    return percentile(durations, 50) || 10;
  };
  const common: CommonOptions = {
    bootstrap: kafka.connection.bootstrapBrokers.join(','),
    mapping: {
      ...(kafka.connection.mskIam
        ? {
            security: {
              mskIam: kafka.connection.mskIam,
              tlsCaPem: kafka.connection.tlsCaPem as string,
            },
          }
        : {}),
      batchSize: settings.batchSize,
      batchWindowMs: settings.batchWindowMs,
      retryBackoffMs: 100,
    },
    onFunctionOutput,
  };
  const env = functionEnv(redis, kafka, prefix);
  if (localSandboxKind() === 'bundle')
    say('function: synthesizing the stack to bundle apply-events as `cdk deploy` ships it');
  // A kill is sent only while an invocation runs; whether it hit one is read from the
  // invocation's outcome.
  const killMidInvocation = (sandbox: FunctionSandbox) => {
    const due =
      watch.publishedRecords >= (records * (settings.kills - killsLeft + 1)) / (settings.kills + 1);
    if (killsLeft > 0 && due) {
      killsLeft -= 1;
      setTimeout(() => {
        if (sandbox.busy && sandbox.kill('SIGKILL')) {
          watch.kills.push(Date.now());
          killInFlight = true;
        } else killsLeft += 1;
      }, medianInvocationMs() / 2);
    }
  };
  const leaderboard = startPipeline({
    bootstrap: common.bootstrap,
    function: { env, onOutput: onFunctionOutput, onInvoke: killMidInvocation },
    mapping: {
      ...common.mapping,
      topics: [topics.leaderboard],
      groupId: `seqguard-demo-${run}`,
      onActivity: (a) => {
        watch.activity.push(a);
        if (a.kind === 'invoked' && a.outcome === 'functionError' && a.detail)
          watch.lastFunctionError = a.detail;
        if (a.kind === 'pollerError')
          watch.lastFunctionError = `the poller failed: ${a.error.message}`;
        // Recovery is measured to the end of the first good batch that started after the crash.
        if (a.kind === 'invoked' && a.outcome === 'success')
          watch.successTimes.push({ end: Date.now(), start: Date.now() - a.durationMs });
        // A kill that reached the sandbox just after its invocation ended hit no batch: the next
        // invocation gets another one.
        if (a.kind === 'invoked' && killInFlight) {
          killInFlight = false;
          if (!(a.outcome === 'functionError' && /SIGKILL/.test(a.detail ?? ''))) killsLeft += 1;
        }
      },
    },
  });
  resources.defer(() => leaderboard.stop());
  const wallet = topics.wallet
    ? startWalletPipeline(watch, { ...common, topic: topics.wallet, run, env })
    : undefined;
  await Promise.all([started(leaderboard), ...(wallet ? [started(wallet)] : [])]);
  say(`function: ${sandboxSummary([leaderboard]).runs}`);
  say(startedLine(leaderboard, "the leaderboard's, seed format"));
  if (wallet) say(startedLine(wallet, "the wallet's, envelope format"));
  return { leaderboard, wallet };
}

/** What the demo's two pipelines share: the brokers, the mapping's settings, the logs' reader. */
interface CommonOptions {
  bootstrap: string;
  mapping: Omit<PipelineOptions['mapping'], 'topics' | 'groupId'>;
  onFunctionOutput: (line: string) => void;
}

/** The wallet's function behind its own mapping: it reads envelopes, and is never killed. */
function startWalletPipeline(
  watch: Watch,
  {
    topic,
    run,
    env,
    ...common
  }: CommonOptions & {
    topic: string;
    run: string;
    env: Record<string, string>;
  },
): Pipeline {
  const wallet = startPipeline({
    bootstrap: common.bootstrap,
    // The wallet's topic carries envelopes, whatever format the leaderboard's function is given.
    function: { env: { ...env, SEQGUARD_FORMAT: 'envelope' }, onOutput: common.onFunctionOutput },
    mapping: {
      ...common.mapping,
      topics: [topic],
      groupId: `seqguard-demo-${run}-wallet`,
      onActivity: (a) => {
        if (a.kind === 'invoked' && a.outcome === 'functionError' && a.detail)
          watch.lastFunctionError = a.detail;
        if (a.kind === 'pollerError')
          watch.lastFunctionError = `the wallet's poller failed: ${a.error.message}`;
      },
    },
  });
  resources.defer(() => wallet.stop());
  return wallet;
}

/** Step: a line a second on how far publishing and the pipelines are; the caller stops it. */
function reportProgress(watch: Watch, pipelines: Pipelines, records: number): NodeJS.Timeout {
  const progress = setInterval(() => {
    const lag = committedLag(watch, pipelines);
    watch.maxLag = Math.max(watch.maxLag, lag);
    const invocations = all(pipelines).reduce((n, p) => n + p.mapping.stats.invocations, 0);
    say(
      `  published ${watch.publishedRecords}/${records}  committed lag ${lag}  invocations ${invocations}` +
        `  kills ${watch.kills.length}  applied ${watch.handlerCounts.applied}  refused ${watch.handlerCounts.refused}`,
    );
  }, 1_000);
  resources.defer(async () => clearInterval(progress));
  return progress;
}

/**
 * Step: every record of the plan, through the hardened producer, in bursts every 100 ms: the
 * leaderboard's to its topic, the wallet's to its own.
 */
async function publishAll(
  watch: Watch,
  pipelines: Pipelines,
  {
    kafka,
    topics,
    model,
    throwIfHalted,
  }: {
    kafka: KafkaClients;
    topics: Topics;
    model: Model;
    throwIfHalted: () => void;
  },
): Promise<void> {
  const producer = createProducer({ clientId: 'seqguard-demo', ...kafka.connection });
  resources.defer(() => producer.close());
  say(
    `publishing ${model.records} records (${model.unique} unique events) at about ${settings.rate} events/s`,
  );
  const interval = 100;
  const send = async (topic: string, events: OutgoingEvent[]) => {
    const written = await publishEvents(producer, topic, events);
    watch.position = mergePositions(watch.position, positionOf(written));
    for (const w of written) {
      const id = topicPartition({ topic, partition: w.partition });
      const end = w.offset + 1n;
      if ((watch.produced.get(id) ?? 0n) < end) watch.produced.set(id, end);
    }
  };
  for await (const burst of trafficBursts(settings)) {
    throwIfHalted();
    const tick = performance.now();
    await Promise.all([
      send(topics.leaderboard, burst.leaderboard),
      ...(topics.wallet ? [send(topics.wallet, burst.wallet)] : []),
    ]);
    watch.publishedRecords += burst.leaderboard.length + burst.wallet.length;
    watch.maxLag = Math.max(watch.maxLag, committedLag(watch, pipelines));
    const rest = interval - (performance.now() - tick);
    if (rest > 0) await sleep(rest);
  }
}

/**
 * Step: caught up when every partition is committed to its end. No commit for STALL_MS while
 * records wait means the pipelines are stuck: say why, with the functions' last error.
 */
async function waitUntilCommitted(
  watch: Watch,
  pipelines: Pipelines,
  throwIfHalted: () => void,
): Promise<void> {
  const STALL_MS = 30_000;
  let lastCommitted = '';
  let lastMove = Date.now();
  while ([...watch.produced].some(([id, end]) => committedOf(pipelines, id) !== end)) {
    throwIfHalted();
    const committed = all(pipelines)
      .map((p) => [...p.mapping.committed.values()].join(','))
      .join('/');
    if (committed !== lastCommitted) {
      lastCommitted = committed;
      lastMove = Date.now();
    } else if (Date.now() - lastMove > STALL_MS) {
      throw new DemoError(
        `the pipeline made no progress for ${STALL_MS / 1000} s with ${committedLag(watch, pipelines)} records waiting; ` +
          `the function's last error: ${watch.lastFunctionError || 'none reported'}`,
      );
    }
    watch.maxLag = Math.max(watch.maxLag, committedLag(watch, pipelines));
    await sleep(50);
  }
}

/**
 * Step: the verdict, from the state itself against the model of the unique events; what the
 * delta stream says of each op (applied, refused); the dead letters; the produce-to-visible
 * latency; and a replay of the last 10,000 stream entries, folded oldest first into a fresh read
 * model (the guard's model of the state; a refused entry changed nothing, so it folds nothing).
 */
async function measure(
  redis: RedisClient,
  model: Model,
  prefix: string,
): Promise<Omit<Measurements, 'readAt'>> {
  const verdict = await checkAgainstModel(redis, model, {
    shard: 'game',
    stateName: demoStateName,
    stateNames: [walletStateName],
    keyPrefix: prefix,
  });
  const deadLettered = await redis.xlen(deadLetterKeys(prefix).stream);
  const keys = shardKeys('game', prefix);
  const stream = await streamOutcomes(redis, keys.stream);
  const latency = await streamLatency(redis, keys.stream);

  const replayStarted = performance.now();
  const tail = await redis.xrevrange(keys.stream, '+', '-', 'COUNT', 10_000);
  const replayed = emptyStateModel();
  for (let i = tail.length - 1; i >= 0; i--) {
    const entry = decodeStreamEntry((tail[i] as [string, string[]])[1]);
    if (entry.refused === undefined) applyRecorded(replayed, entryMutation(entry));
  }
  const replayMs = performance.now() - replayStarted;
  return { verdict, stream, deadLettered, latency, replayMs, replayedEntries: tail.length };
}

/**
 * Step: a read at the position of the last events published, as a service that sent them would
 * make it: a wait for the token, then the top of the leaderboard read at it. It answers only if
 * Redis holds every event up to that position, on every partition of both topics.
 */
async function readAtLastPosition(
  redis: RedisClient,
  watch: Watch,
  { prefix, topics }: { prefix: string; topics: Topics },
): Promise<Measurements['readAt']> {
  const token = positionToken(watch.position);
  const reader = createReader(redis, {
    keyPrefix: prefix,
    topics: Object.values(topics).filter((t) => t !== undefined),
  });
  const started = performance.now();
  try {
    await reader.waitFor(token, { timeoutMs: 30_000, shard: 'game' });
    const waitedMs = performance.now() - started;
    const top = await reader.top('game', demoStateName, 3, { at: token });
    return { token, partitions: watch.position.length, answered: true, waitedMs, top };
  } catch (error) {
    if (!(error instanceof NotUpToBoundError)) throw error;
    return { token, partitions: watch.position.length, answered: false, why: error.message };
  } finally {
    reader.close();
  }
}

/** Step: the report, printed; true when Redis holds exactly the unique events. */
function report(
  watch: Watch,
  input: Omit<Parameters<typeof demoReport>[0], 'watch' | 'json' | 'kills'>,
): boolean {
  const { lines, ok } = demoReport({ ...input, watch, json: flags.json, kills: settings.kills });
  for (const line of lines) say(line);
  return ok;
}

/** The mappings' counts, added. */
function statsOf(pipelines: Pipelines): EsmStats {
  const stats = all(pipelines).map((p) => p.mapping.stats);
  const sum = (k: keyof EsmStats) => stats.reduce((n, s) => n + s[k], 0);
  return Object.fromEntries(
    Object.keys(pipelines.leaderboard.mapping.stats).map((k) => [k, sum(k as keyof EsmStats)]),
  ) as unknown as EsmStats;
}

/**
 * The demo, step by step: the servers (Redis first: it fails in seconds, before the slower
 * broker start), the plan and its model, the pipelines with the crash, the events published, the
 * wait until every partition is committed, then the measurements and the report.
 */
async function main(): Promise<number> {
  const started = performance.now();
  say('seqguard demo: Kafka -> event source mapping -> apply-events -> Redis, with a crash\n');

  const run = randomBytes(3).toString('hex');
  const topics: Topics = {
    leaderboard: `seqguard-demo-${run}`,
    wallet: settings.walletRate > 0 ? `seqguard-demo-${run}-wallet` : undefined,
  };
  const prefix = `demo${run}`;
  const redis = await openRedis(prefix);
  const kafka = await openKafka(Object.values(topics).filter((t) => t !== undefined));
  say(
    `topics  ${topics.leaderboard} (the leaderboard, seed format)${topics.wallet ? `, ${topics.wallet} (the wallets, envelope format)` : ''}, ` +
      `${settings.partitions} partitions${topics.wallet ? ' each' : ''}; Redis key prefix ${prefix}\n`,
  );

  const model = await modelOf(settings);
  const watch = newWatch();
  const pipelines = await startPipelines(watch, {
    kafka,
    redis,
    topics,
    run,
    prefix,
    records: model.records,
  });
  const progress = reportProgress(watch, pipelines, model.records);
  const throwIfHalted = haltCheck(pipelines);
  await publishAll(watch, pipelines, { kafka, topics, model, throwIfHalted });
  await waitUntilCommitted(watch, pipelines, throwIfHalted);
  clearInterval(progress);
  const stats = statsOf(pipelines);
  await Promise.all(all(pipelines).map((p) => p.stop()));

  const readAt = await readAtLastPosition(redis.redis, watch, { prefix, topics });
  const measured = { ...(await measure(redis.redis, model, prefix)), readAt };
  const ok = report(watch, {
    started,
    security: { kafka: kafka.security, redis: redis.security },
    model,
    stats,
    measured,
    runtime: sandboxSummary(all(pipelines)),
  });
  return ok ? 0 : 1;
}

await runMain('demo', resources, main);
