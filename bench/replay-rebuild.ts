/**
 * Reading the delta stream back: the seed article's warm-up window (the last 10,000 entries,
 * which it claims to replay in under 200 ms) decoded (core/layout/codecs.ts) and
 * folded, oldest first, into a fresh read model (the guard's model of the state), and a full
 * rebuild of a leaderboard from its stream (tools/rebuild/rebuild.ts), at two stream
 * sizes. Each is timed several times on the same stream; the tables take the median.
 */
import { randomBytes } from 'node:crypto';
import {
  applyChunk,
  applyMutation,
  chunk,
  decodeStreamEntry,
  emptyStateModel,
  entryMutation,
  type GuardedEvent,
  type RedisClient,
  type StateModel,
  shardKeys,
  stateKey,
} from '../core/index.ts';

import { rebuildState } from '../tools/rebuild/rebuild.ts';
import { benchEvents } from './apply-throughput.ts';

/** The seed article's warm-up window. */
export const replayWindow = 10_000;

export interface ReplayMeasurement {
  streamEntries: number;
  tailEntries: number;
  /** Every timing of the replay of the last `replayWindow` entries, ms. */
  tailReplayMs: number[];
  /** Every timing of the rebuild of the whole stream, ms. */
  rebuildMs: number[];
  rebuildOutcome: string;
  /** The replay folded what the last events made, and every rebuild found nothing to change. */
  correct: boolean;
}

/** The last `replayWindow` entries of the stream, oldest first, folded into a fresh model. */
async function replayTail(redis: RedisClient, stream: string): Promise<StateModel> {
  const tail = await redis.xrevrange(stream, '+', '-', 'COUNT', replayWindow);
  const model = emptyStateModel();
  for (let i = tail.length - 1; i >= 0; i--) {
    applyMutation(model, entryMutation(decodeStreamEntry((tail[i] as [string, string[]])[1])));
  }
  return model;
}

function sameScores(a: StateModel, b: StateModel): boolean {
  const x = a.state.get('leaderboard');
  const y = b.state.get('leaderboard');
  if (x?.type !== 'zset' || y?.type !== 'zset' || x.members.size !== y.members.size) return false;
  for (const [member, { score }] of x.members) {
    if (y.members.get(member)?.score !== score) return false;
  }
  return true;
}

/** A delta stream of bench events (benchEvents) applied through the guard, untrimmed. */
export interface BenchStream {
  /** The key prefix of its own: the shard "bench", its leaderboard and its stream. */
  keyPrefix: string;
  events: GuardedEvent[];
  /** The stream's key. */
  stream: string;
}

/**
 * `entries` bench events applied through the guard (chunks of 1,000, no trimming) under a fresh
 * key prefix: a stream of as many entries, and the leaderboard they make.
 */
export async function fillBenchStream(redis: RedisClient, entries: number): Promise<BenchStream> {
  const keyPrefix = `r${randomBytes(3).toString('hex')}`;
  const guard = { firstSeq: '1', streamMaxLen: 0, streamMaxAgeMs: 0, keyPrefix };
  const events = benchEvents(entries);
  for (const part of chunk(events, 1_000)) await applyChunk(redis, 'bench', part, guard);
  return { keyPrefix, events, stream: shardKeys('bench', keyPrefix).stream };
}

/** The keys of the shard "bench" under a key prefix: the shard's and its leaderboard. */
export async function dropBenchStream(
  redis: RedisClient,
  { keyPrefix }: Pick<BenchStream, 'keyPrefix'>,
): Promise<void> {
  await redis.del(
    ...Object.values(shardKeys('bench', keyPrefix)),
    stateKey('bench', 'leaderboard', keyPrefix),
  );
}

/** The model of what the mutations of the last `window` events make, folded oldest first. */
export function foldLast(events: readonly GuardedEvent[], window: number): StateModel {
  const model = emptyStateModel();
  for (const event of events.slice(-window)) applyMutation(model, event.mutation);
  return model;
}

export async function measureReplayRebuild(
  redis: RedisClient,
  entries: number,
  rounds: { replay: number; rebuild: number },
): Promise<ReplayMeasurement> {
  const filled = await fillBenchStream(redis, entries);
  const { keyPrefix, stream } = filled;

  // What the replay must find: the mutations of the last events, in the model.
  const expected = foldLast(filled.events, replayWindow);

  const tailReplayMs: number[] = [];
  let correct = true;
  let tailEntries = 0;
  for (let round = 0; round < rounds.replay; round++) {
    const started = performance.now();
    const model = await replayTail(redis, stream);
    tailReplayMs.push(performance.now() - started);
    correct &&= sameScores(model, expected);
    tailEntries = Math.min(entries, replayWindow);
  }

  const rebuildMs: number[] = [];
  let rebuildOutcome = '';
  for (let round = 0; round < rounds.rebuild; round++) {
    const started = performance.now();
    const outcome = await rebuildState(redis, { shard: 'bench', name: 'leaderboard', keyPrefix });
    rebuildMs.push(performance.now() - started);
    rebuildOutcome = outcome.kind;
    correct &&= outcome.kind === 'rebuilt' && outcome.changedTargets === 0;
  }
  await dropBenchStream(redis, filled);
  return {
    streamEntries: entries,
    tailEntries,
    tailReplayMs,
    rebuildMs,
    rebuildOutcome,
    correct,
  };
}
