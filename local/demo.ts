/**
 * `npm run demo`: the whole pipeline on real parts, with a crash in the middle, then a check
 * that Redis holds exactly the effects of the unique events.
 *
 * Starts a Kafka broker and a redis-server (or uses KAFKA_BROKERS / REDIS_URL), publishes
 * events in the seed article's format {sequence_id, player_id, delta} through the hardened
 * producer at a steady rate (with producer resends, late events and malformed records mixed in),
 * runs the real apply-events handler through the event source mapping emulator, SIGKILLs the
 * handler mid-batch, waits until every partition is committed, and compares the leaderboard and
 * the delta stream with a model computed from the unique events. Exits non-zero on any loss or
 * duplicate. Stops everything it started, on Ctrl-C too.
 *
 *   node local/demo.ts [--events 10000] [--partitions 3] [--players 1000] [--rate 2500]
 *                      [--duplicate-rate 0.02] [--gap-rate 0.01] [--malformed-rate 0.002]
 *                      [--kills 1] [--batch-size 100] [--json]
 *
 * --json adds a line `RESULT {…}` with the measurements, for bench/
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import {
  createProducer,
  type OutgoingEvent,
  publishEvents,
} from '../functions/shared/kafka/producer.ts';
import { inMemorySequenceSource, stampSeedEvent } from '../functions/shared/kafka/sequencer.ts';
import { deadLetterKeys, shardKeys, stateKey } from '../functions/shared/redis/keys.ts';
import type { EsmActivity } from './esm/event-source-mapping.ts';
import { startKafkaBroker } from './kafka-broker.ts';
import { startPipeline } from './pipeline.ts';
import { startRedisServer } from './redis-server.ts';

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    partitions: { type: 'string', default: '3' },
    players: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '2500' },
    'duplicate-rate': { type: 'string', default: '0.02' },
    'gap-rate': { type: 'string', default: '0.01' },
    'malformed-rate': { type: 'string', default: '0.002' },
    kills: { type: 'string', default: '1' },
    'batch-size': { type: 'string', default: '100' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  console.log(
    'usage: npm run demo -- [--events N] [--partitions N] [--players N] [--rate events/s]\n' +
      '       [--duplicate-rate R] [--gap-rate R] [--malformed-rate R] [--kills N] [--batch-size N] [--json]',
  );
  process.exit(0);
}

function numberFlag(name: keyof typeof flags, min: number, max: number): number {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value < min || value > max) {
    console.error(`--${name} must be a number from ${min} to ${max}, got ${flags[name]}`);
    process.exit(2);
  }
  return value;
}

const settings = {
  events: numberFlag('events', 1, 10_000_000),
  partitions: numberFlag('partitions', 1, 64),
  players: numberFlag('players', 1, 1_000_000),
  rate: numberFlag('rate', 1, 1_000_000),
  duplicateRate: numberFlag('duplicate-rate', 0, 1),
  gapRate: numberFlag('gap-rate', 0, 1),
  malformedRate: numberFlag('malformed-rate', 0, 1),
  kills: numberFlag('kills', 0, 100),
  batchSize: numberFlag('batch-size', 1, 10_000),
};

/** Everything started, stopped in reverse order, once, on the way out or on Ctrl-C. */
const cleanups: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  })();
  return cleaning;
}
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  console.log('\ninterrupted: stopping everything the demo started');
  void cleanUp().then(() => process.exit(130));
});

const say = (line: string) => console.log(line);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Plan {
  /** Unique events in publishing order, late ones moved back, resends and junk mixed in. */
  batches: OutgoingEvent[][];
  expected: Map<string, number>;
  unique: number;
  resends: number;
  late: number;
  malformed: number;
}

/** The events to publish, in bursts of a tenth of a second at the requested rate. */
async function planEvents(): Promise<Plan> {
  const sequences = inMemorySequenceSource();
  const expected = new Map<string, number>();
  const burst = Math.max(1, Math.round(settings.rate / 10));
  const batches: OutgoingEvent[][] = [];
  let current: OutgoingEvent[] = [];
  let heldBack: OutgoingEvent[] = [];
  let resends = 0;
  let late = 0;
  let malformed = 0;
  const random = seededRandom(42);
  for (let i = 0; i < settings.events; i++) {
    const player = `player-${Math.floor(random() * settings.players)}`;
    const delta = 1 + Math.floor(random() * 10);
    const event = await stampSeedEvent(sequences, { player_id: player, delta });
    expected.set(player, (expected.get(player) ?? 0) + delta);
    const outgoing = { scope: event.scope, value: event.value };
    if (random() < settings.gapRate) {
      // Held back to the end of the burst: the guard opens a gap, then fills it.
      heldBack.push(outgoing);
      late += 1;
    } else {
      current.push(outgoing);
    }
    if (random() < settings.duplicateRate) {
      current.push(outgoing); // a producer resend of the same event
      resends += 1;
    }
    if (random() < settings.malformedRate) {
      current.push({ scope: player, value: 'not an event' });
      malformed += 1;
    }
    if (current.length >= burst) {
      batches.push([...current, ...heldBack]);
      current = [];
      heldBack = [];
    }
  }
  if (current.length + heldBack.length > 0) batches.push([...current, ...heldBack]);
  return { batches, expected, unique: settings.events, resends, late, malformed };
}

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<number> {
  const started = performance.now();
  say('seqguard demo: Kafka -> event source mapping -> apply-events -> Redis, with a crash\n');

  const kafka = await startKafkaBroker();
  cleanups.push(() => kafka.stop());
  say(
    `kafka   ${kafka.bootstrap}${process.env.KAFKA_BROKERS ? ' (KAFKA_BROKERS)' : ' (started here)'}`,
  );
  const redisServer = process.env.REDIS_URL ? undefined : await startRedisServer();
  if (redisServer) cleanups.push(() => redisServer.dispose());
  const redisUrl = process.env.REDIS_URL ?? (redisServer?.url as string);
  say(`redis   ${redisUrl}${redisServer ? ' (started here)' : ' (REDIS_URL)'}`);
  const redis = new Redis(redisUrl);
  cleanups.push(async () => redis.disconnect());

  const run = randomBytes(3).toString('hex');
  const topic = `seqguard-demo-${run}`;
  const prefix = `demo${run}`;
  const admin = new Admin({ clientId: 'seqguard-demo', bootstrapBrokers: [kafka.bootstrap] });
  await admin.createTopics({ topics: [topic], partitions: settings.partitions, replicas: 1 });
  await admin.close();
  say(`topic   ${topic}, ${settings.partitions} partitions; Redis key prefix ${prefix}\n`);

  const plan = await planEvents();
  const records = plan.batches.reduce((n, b) => n + b.length, 0);

  // The function's own counts, from its structured log line per batch.
  const handlerCounts = { applied: 0, duplicates: 0, deadLettered: 0, late: 0, gapsOpened: 0 };
  const onFunctionOutput = (line: string) => {
    if (!line.includes('"batch applied"')) return;
    const entry = JSON.parse(line) as Record<string, number>;
    for (const key of Object.keys(handlerCounts) as (keyof typeof handlerCounts)[]) {
      handlerCounts[key] += entry[key] ?? 0;
    }
  };

  const produced = new Map<string, bigint>(); // end offset per partition, as published
  const activity: EsmActivity[] = [];
  /** When each successful invocation started and ended, to measure recovery after a crash. */
  const successTimes: { start: number; end: number }[] = [];
  let killsLeft = settings.kills;
  const kills: number[] = [];
  let publishedRecords = 0;
  const pipeline = startPipeline({
    bootstrap: kafka.bootstrap,
    topics: [topic],
    groupId: `seqguard-demo-${run}`,
    batchSize: settings.batchSize,
    batchWindowMs: 100,
    retryBackoffMs: 100,
    functionEnv: {
      REDIS_URL: redisUrl,
      SEQGUARD_FORMAT: 'mapped',
      SEQGUARD_KEY_PREFIX: prefix,
      SEQGUARD_DEFAULT_SHARD: 'game',
      // Small chunks: a batch is several script executions, so a crash can fall between them.
      SEQGUARD_CHUNK_SIZE: '20',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    },
    onFunctionOutput,
    onActivity: (a) => {
      activity.push(a);
      // Recovery is measured to the end of the first good batch that started after the crash.
      if (a.kind === 'invoked' && a.outcome === 'success')
        successTimes.push({ end: Date.now(), start: Date.now() - a.durationMs });
    },
    onInvoke: (sandbox) => {
      // The crash: half way through an invocation (by the median so far), once a share of the
      // events is out, so that the batch dies with some of its chunks applied.
      const due =
        publishedRecords >= (records * (settings.kills - killsLeft + 1)) / (settings.kills + 1);
      if (killsLeft > 0 && due) {
        killsLeft -= 1;
        setTimeout(() => {
          if (sandbox.kill('SIGKILL')) kills.push(Date.now());
          else killsLeft += 1;
        }, medianInvocationMs() / 2);
      }
    },
  });
  cleanups.push(() => pipeline.stop());

  function medianInvocationMs(): number {
    const durations = activity
      .flatMap((a) => (a.kind === 'invoked' && a.outcome === 'success' ? [a.durationMs] : []))
      .sort((a, b) => a - b);
    return percentile(durations, 50) || 10;
  }
  await pipeline.mapping.ready;
  // The function's cold start (loading its modules) happens before the first event, as it
  // would for a deployed function that has served traffic before.
  await pipeline.sandbox.invoke({ records: {} });

  const lagOf = () => {
    let lag = 0n;
    for (const [id, end] of produced) lag += end - (pipeline.mapping.committed.get(id) ?? 0n);
    return Number(lag);
  };
  let maxLag = 0;
  const progress = setInterval(() => {
    const lag = lagOf();
    maxLag = Math.max(maxLag, lag);
    say(
      `  published ${publishedRecords}/${records}  committed lag ${lag}  invocations ${pipeline.mapping.stats.invocations}` +
        `  crashes ${kills.length}  applied ${handlerCounts.applied}`,
    );
  }, 1_000);
  cleanups.push(async () => clearInterval(progress));

  const producer = createProducer({
    bootstrapBrokers: [kafka.bootstrap],
    clientId: 'seqguard-demo',
  });
  cleanups.push(() => producer.close());
  say(
    `publishing ${records} records (${plan.unique} unique events) at about ${settings.rate} events/s`,
  );
  const interval = 100;
  for (const batch of plan.batches) {
    const tick = performance.now();
    const written = await publishEvents(producer, topic, batch);
    for (const w of written) {
      const id = `${topic}-${w.partition}`;
      const end = w.offset + 1n;
      if ((produced.get(id) ?? 0n) < end) produced.set(id, end);
    }
    publishedRecords += batch.length;
    maxLag = Math.max(maxLag, lagOf());
    const rest = interval - (performance.now() - tick);
    if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
  }

  const caughtUp = async () => {
    const deadline = Date.now() + 120_000;
    while ([...produced].some(([id, end]) => pipeline.mapping.committed.get(id) !== end)) {
      if (Date.now() > deadline) throw new Error('the pipeline did not catch up within 120 s');
      maxLag = Math.max(maxLag, lagOf());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await caughtUp();
  clearInterval(progress);
  await pipeline.stop();

  // Verify Redis against the model of the unique events.
  const keys = shardKeys('game', prefix);
  const boardFlat = await redis.zrange(
    stateKey('game', 'leaderboard', prefix),
    '0',
    '-1',
    'WITHSCORES',
  );
  const board = new Map<string, number>();
  for (let i = 0; i < boardFlat.length; i += 2)
    board.set(boardFlat[i] as string, Number(boardFlat[i + 1]));
  let wrongPlayers = 0;
  for (const player of new Set([...board.keys(), ...plan.expected.keys()])) {
    if ((board.get(player) ?? 0) !== (plan.expected.get(player) ?? 0)) wrongPlayers += 1;
  }
  const entries = await redis.xrange(keys.stream, '-', '+');
  const appliedIds = new Map<string, number>();
  const latencies: number[] = [];
  for (const [id, fields] of entries) {
    const f = Object.fromEntries(
      fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i], fields[i + 1]]])),
    );
    const eventId = `${f.scope}#${f.seq}`;
    appliedIds.set(eventId, (appliedIds.get(eventId) ?? 0) + 1);
    latencies.push(Number(id.split('-')[0]) - Number(f.ts));
  }
  latencies.sort((a, b) => a - b);
  const lost = plan.unique - appliedIds.size;
  const duplicated = [...appliedIds.values()].reduce((n, c) => n + c - 1, 0);
  const deadLettered = await redis.xlen(deadLetterKeys(prefix).stream);
  const openGaps = await redis.zcard(keys.gaps);

  // Replay: read the last 10,000 stream entries and fold them into a fresh read model.
  const replayStarted = performance.now();
  const tail = await redis.xrevrange(keys.stream, '+', '-', 'COUNT', 10_000);
  const replayed = new Map<string, number>();
  for (const [, fields] of tail) {
    const f = Object.fromEntries(
      fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i], fields[i + 1]]])),
    );
    replayed.set(f.target as string, (replayed.get(f.target as string) ?? 0) + Number(f.value));
  }
  const replayMs = performance.now() - replayStarted;

  const rows: [string, string][] = [
    ['events produced (unique)', String(plan.unique)],
    [
      'records published',
      `${records} (${plan.resends} producer resends, ${plan.late} sent late, ${plan.malformed} malformed)`,
    ],
    ['events applied', String(appliedIds.size)],
    [
      'duplicates skipped by the guard',
      `${handlerCounts.duplicates} (${plan.resends} producer resends, ${handlerCounts.duplicates - plan.resends} redelivered after a crash)`,
    ],
    ['late events applied into gaps', String(handlerCounts.late)],
    ['dead-lettered', `${deadLettered} (malformed records published: ${plan.malformed})`],
    ['open sequence gaps', String(openGaps)],
    ['LOST', String(lost)],
    ['DUPLICATED', String(duplicated)],
    ['players whose score is wrong', String(wrongPlayers)],
    ['handler crashes (SIGKILL mid-batch)', String(kills.length)],
    [
      'invocations / function errors / retried batches',
      `${pipeline.mapping.stats.invocations} / ${pipeline.mapping.stats.functionErrors} / ${pipeline.mapping.stats.rewinds}`,
    ],
    ['max consumer lag', `${maxLag} records`],
    [
      'produce-to-visible latency p50 / p99',
      `${percentile(latencies, 50)} ms / ${percentile(latencies, 99)} ms`,
    ],
    ['recovery after a crash (kill to next successful batch)', recoveryText(kills, successTimes)],
    [
      'replay of the last 10,000 stream entries',
      `${replayMs.toFixed(1)} ms (${tail.length} entries)`,
    ],
    ['demo wall time', seconds(performance.now() - started)],
  ];
  if (flags.json) {
    say(
      `RESULT ${JSON.stringify({
        unique: plan.unique,
        applied: appliedIds.size,
        lost,
        duplicated,
        maxLag,
        latencyP50Ms: percentile(latencies, 50),
        latencyP99Ms: percentile(latencies, 99),
        recoveryMs: kills.map(
          (at) => (successTimes.find((t) => t.start >= at)?.end ?? Number.NaN) - at,
        ),
        replayMs,
        wallMs: performance.now() - started,
      })}`,
    );
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  say('\nreport');
  for (const [k, v] of rows) say(`  ${k.padEnd(width)}  ${v}`);

  const ok =
    lost === 0 &&
    duplicated === 0 &&
    wrongPlayers === 0 &&
    deadLettered === plan.malformed &&
    kills.length >= Math.min(1, settings.kills);
  say(
    ok
      ? '\nOK: every event applied exactly once.'
      : '\nFAILED: Redis does not hold exactly the unique events.',
  );
  return ok ? 0 : 1;
}

function recoveryText(kills: number[], successes: { start: number; end: number }[]): string {
  if (kills.length === 0) return 'no crash';
  const times = kills.map((at) => {
    const next = successes.find((t) => t.start >= at);
    return next === undefined ? Number.NaN : next.end - at;
  });
  return times.map((t) => (Number.isNaN(t) ? 'never' : `${t} ms`)).join(', ');
}

try {
  process.exitCode = await main();
} catch (error) {
  // After Ctrl-C the clients close under the running steps: their errors are expected.
  if (!interrupted) console.error(`demo failed: ${(error as Error).stack ?? error}`);
  process.exitCode = interrupted ? 130 : 1;
} finally {
  await cleanUp();
}
