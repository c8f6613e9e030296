/**
 * The delta-stream view (createStreamView, docs/reading.md "The delta-stream view") against the
 * issue's figures: a consumer warms from the last 10,000 entries (the seed article claims under
 * 200 ms) and tails at least as fast as the guard applies.
 *
 * Warm-up: a stream of bench events applied through the guard (fillBenchStream,
 * bench/replay-rebuild.ts), then the start() of a fresh view timed, warming from the last
 * `replayWindow` entries and, for comparison, from the state; an untimed round first, then
 * `rounds` rounds in which the two take turns (which goes first alternates). Every view is
 * checked: warmed from the entries it holds what the last entries make (the state itself, ZRANGE
 * … REV WITHSCORES, when the stream holds every entry), warmed from the state the state.
 *
 * Tail: events applied through the guard in chunks of 500, as the sink applies them, each pass
 * on an empty shard of its own, with a view warmed from the (empty) state:
 * - live: the view tails while the guard writes. Its rate, the entries over the time from the
 *   first chunk to caught up, includes its waiting for the guard's entries, so it stays below
 *   the guard's by the lag at the end: the lag says how far it trailed;
 * - backlog: the view's connection is held by a blocking pop while the guard writes, and
 *   released once the guard is done: the view then reads the whole backlog at its own pace, page
 *   by page, as a consumer that fell behind does. Its rate against the guard's apply rate of the
 *   same pass says whether it keeps up.
 * Both views must end equal to the state, having applied every entry once without warming again.
 */
import { randomBytes } from 'node:crypto';
import {
  applyChunk,
  chunk,
  createStreamView,
  type GuardedEvent,
  type RankedMember,
  type RedisClient,
  type StateModel,
  type StreamView,
  stateKey,
} from '../core/index.ts';
import { benchEvents, shard } from './apply-throughput.ts';
import { collectGarbage, fixed, markdownTable, percentile } from './lib.ts';
import { rankedOf } from './reads.ts';
import { dropBenchStream, fillBenchStream, foldLast, replayWindow } from './replay-rebuild.ts';

const name = 'leaderboard';
/** Events per applyChunk call while the view tails: the sink's chunk. */
export const tailChunk = 500;

export interface ViewBenchOptions {
  /** The sizes of the streams warmed from, in entries. */
  streams: number[];
  /** Timed warm-ups of each kind per stream. */
  rounds: number;
  /** Events the guard applies in each tail pass. */
  tailEvents: number;
}

export interface ViewWarm {
  streamEntries: number;
  /** Members of the leaderboard the state holds. */
  members: number;
  /** Every timed start() warming from the last `replayWindow` entries, ms. */
  fromEntriesMs: number[];
  /** Every timed start() warming from the state, ms. */
  fromStateMs: number[];
}

/** One tail pass: the guard's rate and the view's. */
export interface TailPass {
  /** The guard's events over the time from its first chunk sent to its last chunk's reply. */
  applyPerSecond: number;
  /**
   * The entries the view read over its time: live, from the guard's first chunk to caught up;
   * backlog, from the release to caught up.
   */
  viewPerSecond: number;
  /** ms to caught up: live, from the guard's last reply; backlog, from the release. */
  lagMs: number;
  /** The most entries the view was behind the guard, at a chunk's reply. */
  maxBehind: number;
}

export interface StreamViewMeasurement extends ViewBenchOptions {
  warm: ViewWarm[];
  live: TailPass;
  /** The backlog pass of the median view / guard ratio, of `rounds` passes. */
  backlog: TailPass;
  /** Every backlog pass's view / guard ratio. */
  backlogRatios: number[];
  /** Every view held what it should, and tailed every entry once, without warming again. */
  correct: boolean;
  wrong: string[];
}

/**
 * Scores in ZRANGE … REV order, as ranked members: the highest first, ties by member,
 * descending (by UTF-16 code units: byte order for the bench's ASCII members).
 */
export function rankedDesc(scores: Iterable<readonly [string, number]>): RankedMember[] {
  return [...scores]
    .sort(([am, as], [bm, bs]) => (as === bs ? (am < bm ? 1 : am > bm ? -1 : 0) : bs - as))
    .map(([member, score], rank) => ({ member, score, rank }));
}

/** Where two rankings first differ, in words; undefined when they are the same. */
export function rankingDifference(
  got: readonly RankedMember[],
  want: readonly RankedMember[],
): string | undefined {
  if (got.length !== want.length) return `${got.length} members, not ${want.length}`;
  const at = got.findIndex((g, i) => {
    const w = want[i] as RankedMember;
    return g.member !== w.member || g.score !== w.score || g.rank !== w.rank;
  });
  return at < 0
    ? undefined
    : `rank ${at} is ${JSON.stringify(got[at])}, not ${JSON.stringify(want[at])}`;
}

/** The leaderboard's scores in a model. */
function modelScores(model: StateModel): [string, number][] {
  const board = model.state.get(name);
  return board?.type === 'zset' ? [...board.members].map(([m, { score }]) => [m, score]) : [];
}

/** The state as ranked members (ZRANGE … REV WITHSCORES). */
async function stateRanking(redis: RedisClient, keyPrefix: string): Promise<RankedMember[]> {
  const key = stateKey(shard, name, keyPrefix);
  return rankedOf(await redis.zrange(key, '0', '-1', 'REV', 'WITHSCORES'), 0);
}

type Duplicable = { duplicate(): RedisClient };

/**
 * A connection of the view's own (connected before any clock starts), and every connection the
 * view opens from it, to close together: StreamView.stop() called while the tail is between two
 * reads leaves open the blocking connection the tail opens next.
 */
async function viewClient(redis: RedisClient): Promise<{ client: RedisClient; close(): void }> {
  const client = (redis as unknown as Duplicable).duplicate();
  client.on('error', () => {}); // a failed read says it
  const opened = [client];
  const duplicate = (client as unknown as Duplicable).duplicate.bind(client);
  (client as unknown as Duplicable).duplicate = () => {
    const opens = duplicate();
    opened.push(opens);
    return opens;
  };
  await client.ping();
  const close = () => {
    for (const c of opened) c.disconnect();
  };
  return { client, close };
}

type Warm = 'state' | { entries: number };

/** One view's start() timed, and what it holds once started. */
async function timedWarm(
  redis: RedisClient,
  keyPrefix: string,
  warm: Warm,
): Promise<{ ms: number; ranking: RankedMember[] }> {
  const { client, close } = await viewClient(redis);
  const view = createStreamView(client, { shard, name, keyPrefix, warm, blockMs: 100 });
  try {
    collectGarbage();
    const started = performance.now();
    await view.start();
    const ms = performance.now() - started;
    return { ms, ranking: view.top(view.size) };
  } finally {
    await view.stop();
    close();
  }
}

/**
 * A stream of `entries` bench events, and what a view must hold warmed from it: the state, and
 * what the last `replayWindow` entries make (the state, when the stream holds every entry). The
 * events themselves are let go before any warm-up is timed: a million of them in the heap make
 * the collector's work, on the cores Redis runs on too, part of every warm-up.
 */
async function warmStream(redis: RedisClient, entries: number) {
  const filled = await fillBenchStream(redis, entries);
  try {
    const state = await stateRanking(redis, filled.keyPrefix);
    const fromEntries =
      entries <= replayWindow
        ? state
        : rankedDesc(modelScores(foldLast(filled.events, replayWindow)));
    return { keyPrefix: filled.keyPrefix, state, fromEntries };
  } catch (error) {
    await dropBenchStream(redis, filled);
    throw error;
  }
}

/** Warm-ups from the last entries and from the state, timed in turns on a stream of `entries`. */
async function measureWarm(
  redis: RedisClient,
  entries: number,
  rounds: number,
  wrong: Set<string>,
): Promise<ViewWarm> {
  const { keyPrefix, state, fromEntries } = await warmStream(redis, entries);
  try {
    const kinds = [
      {
        warm: { entries: replayWindow },
        label: `from the last ${fixed(replayWindow)} entries`,
        want: fromEntries,
        ms: [] as number[],
      },
      { warm: 'state' as const, label: 'from the state', want: state, ms: [] as number[] },
    ];
    // An untimed round first: the code of both compiled before the clock starts.
    for (let round = 0; round <= rounds; round++) {
      for (let k = 0; k < kinds.length; k++) {
        const kind = kinds[(round + k) % kinds.length] as (typeof kinds)[number];
        const { ms, ranking } = await timedWarm(redis, keyPrefix, kind.warm);
        if (round > 0) kind.ms.push(ms);
        const differs = rankingDifference(ranking, kind.want);
        if (differs) wrong.add(`warm ${kind.label}, ${fixed(entries)}-entry stream: ${differs}`);
      }
    }
    const [entriesKind, stateKind] = kinds as [(typeof kinds)[0], (typeof kinds)[1]];
    return {
      streamEntries: entries,
      members: state.length,
      fromEntriesMs: entriesKind.ms,
      fromStateMs: stateKind.ms,
    };
  } finally {
    await dropBenchStream(redis, { keyPrefix });
  }
}

/** The guard applies `events` in chunks of tailChunk: the time of the first send and last reply. */
async function applyInChunks(
  redis: RedisClient,
  events: readonly GuardedEvent[],
  keyPrefix: string,
  afterChunk: (applied: number) => void,
): Promise<{ began: number; ended: number }> {
  const guard = { firstSeq: '1', streamMaxLen: 0, streamMaxAgeMs: 0, keyPrefix };
  let applied = 0;
  const began = performance.now();
  for (const part of chunk([...events], tailChunk)) {
    await applyChunk(redis, shard, part, guard);
    applied += part.length;
    afterChunk(applied);
  }
  return { began, ended: performance.now() };
}

/** A view tailing an empty shard of its own; what goes wrong with it goes to `wrong`. */
async function tailingView(redis: RedisClient, pass: string, wrong: Set<string>) {
  const keyPrefix = `v${randomBytes(3).toString('hex')}`;
  const { client, close } = await viewClient(redis);
  const view = createStreamView(client, {
    shard,
    name,
    keyPrefix,
    onRewarm: (why) => wrong.add(`${pass} tail warmed again: ${why}`),
    onError: (error) => wrong.add(`${pass} tail: ${error.message}`),
  });
  await view.start();
  return { keyPrefix, client, view, close };
}

/** The view ends equal to the state, having tailed every entry once. */
async function checkTail(
  redis: RedisClient,
  view: StreamView,
  keyPrefix: string,
  events: number,
  pass: string,
  wrong: Set<string>,
): Promise<void> {
  const differs = rankingDifference(view.top(view.size), await stateRanking(redis, keyPrefix));
  if (differs) wrong.add(`${pass} tail: ${differs}`);
  if (view.tailed !== events || view.warmups !== 1)
    wrong.add(`${pass} tail: ${view.tailed} of ${events} entries tailed, ${view.warmups} warm-ups`);
}

/** The view tails while the guard writes. */
async function liveTail(
  redis: RedisClient,
  events: readonly GuardedEvent[],
  wrong: Set<string>,
): Promise<TailPass> {
  const { keyPrefix, view, close } = await tailingView(redis, 'live', wrong);
  try {
    let maxBehind = 0;
    collectGarbage();
    const { began, ended } = await applyInChunks(redis, events, keyPrefix, (applied) => {
      maxBehind = Math.max(maxBehind, applied - view.tailed);
    });
    await view.caughtUp(60_000);
    const caughtUp = performance.now();
    await checkTail(redis, view, keyPrefix, events.length, 'live', wrong);
    return {
      applyPerSecond: events.length / ((ended - began) / 1000),
      viewPerSecond: events.length / ((caughtUp - began) / 1000),
      lagMs: caughtUp - ended,
      maxBehind,
    };
  } finally {
    await view.stop();
    close();
    await dropBenchStream(redis, { keyPrefix });
  }
}

/**
 * The view's connection is held by a blocking pop (its next read waits behind it) while the
 * guard writes; released, the view reads the backlog at its own pace.
 */
async function backlogTail(
  redis: RedisClient,
  events: readonly GuardedEvent[],
  wrong: Set<string>,
): Promise<TailPass> {
  const { keyPrefix, client, view, close } = await tailingView(redis, 'backlog', wrong);
  const gate = `${keyPrefix}:gate`;
  try {
    const held = client.blpop(gate, 0);
    collectGarbage();
    const { began, ended } = await applyInChunks(redis, events, keyPrefix, () => {});
    const backlog = events.length - view.tailed;
    const released = performance.now();
    await redis.lpush(gate, '1');
    await held;
    await view.caughtUp(60_000);
    const caughtUp = performance.now();
    await checkTail(redis, view, keyPrefix, events.length, 'backlog', wrong);
    return {
      applyPerSecond: events.length / ((ended - began) / 1000),
      viewPerSecond: backlog / ((caughtUp - released) / 1000),
      lagMs: caughtUp - released,
      maxBehind: backlog,
    };
  } finally {
    await view.stop();
    close();
    await redis.del(gate);
    await dropBenchStream(redis, { keyPrefix });
  }
}

/** Warm-ups on each stream size, then the two tail passes. */
export async function measureStreamView(
  redis: RedisClient,
  options: ViewBenchOptions,
): Promise<StreamViewMeasurement> {
  const wrong = new Set<string>();
  const warm: ViewWarm[] = [];
  for (const entries of options.streams)
    warm.push(await measureWarm(redis, entries, options.rounds, wrong));
  const events = benchEvents(options.tailEvents);
  const live = await liveTail(redis, events, wrong);
  // The guard's rate and the view's are taken one after the other: on a shared machine one pass
  // can catch a slow moment in either, so the pass of the median ratio is reported.
  const passes: TailPass[] = [];
  for (let round = 0; round < options.rounds; round++)
    passes.push(await backlogTail(redis, events, wrong));
  const ratioOf = (p: TailPass) => p.viewPerSecond / p.applyPerSecond;
  passes.sort((a, b) => ratioOf(a) - ratioOf(b));
  const backlog = passes[passes.length >> 1] as TailPass;
  return {
    ...options,
    warm,
    live,
    backlog,
    backlogRatios: passes.map(ratioOf),
    correct: wrong.size === 0,
    wrong: [...wrong],
  };
}

/** The slowest median warm-up from the last entries over the streams, and its stream. */
export function slowestWarm(
  measurement: StreamViewMeasurement,
): { streamEntries: number; ms: number } | undefined {
  let slowest: { streamEntries: number; ms: number } | undefined;
  for (const { streamEntries, fromEntriesMs } of measurement.warm) {
    const ms = percentile(fromEntriesMs, 50);
    // A warm-up not measured (NaN) counts as the slowest: it cannot meet a target.
    if (slowest === undefined || Number.isNaN(ms) || ms > slowest.ms)
      slowest = { streamEntries, ms };
  }
  return slowest;
}

/** The view's rate on the backlog over the guard's apply rate of the same pass. */
export const backlogRatio = (m: StreamViewMeasurement) =>
  m.backlog.viewPerSecond / m.backlog.applyPerSecond;

const spread = (values: number[], digits: number) =>
  values.length > 1
    ? ` (${fixed(Math.min(...values), digits)} to ${fixed(Math.max(...values), digits)})`
    : '';

const medianMs = (values: number[]) => `${fixed(percentile(values, 50), 1)} ms${spread(values, 1)}`;

/** One row per stream: the warm-ups' medians and ranges. */
export function viewWarmTable(measurement: StreamViewMeasurement): string {
  return markdownTable(
    [
      'stream entries',
      'leaderboard members',
      `start(), warm from the last ${fixed(replayWindow)} entries`,
      'start(), warm from the state',
    ],
    measurement.warm.map((w) => [
      fixed(w.streamEntries),
      fixed(w.members),
      medianMs(w.fromEntriesMs),
      medianMs(w.fromStateMs),
    ]),
  );
}

/** One row per tail pass: the guard's rate, the view's, their ratio and the lag. */
export function viewTailTable(measurement: StreamViewMeasurement): string {
  const row = (pass: string, p: TailPass, lag: string, ratios: number[] = []) => [
    pass,
    fixed(measurement.tailEvents),
    fixed(p.applyPerSecond),
    fixed(p.viewPerSecond),
    `${fixed(p.viewPerSecond / p.applyPerSecond, 2)}x${spread(ratios, 2)}`,
    `${fixed(p.lagMs, 1)} ms ${lag}`,
    fixed(p.maxBehind),
  ];
  return markdownTable(
    [
      'pass',
      'events',
      'guard applies, events/s',
      'view tails, entries/s',
      'view / guard',
      'to caught up',
      'most entries behind',
    ],
    [
      row('live: the view tails while the guard writes', measurement.live, 'after the last chunk'),
      row(
        `backlog: the view reads after the guard wrote (the median of ${measurement.backlogRatios.length} passes)`,
        measurement.backlog,
        'after release',
        measurement.backlogRatios,
      ),
    ],
  );
}
