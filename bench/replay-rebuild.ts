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

export async function measureReplayRebuild(
  redis: RedisClient,
  entries: number,
  rounds: { replay: number; rebuild: number },
): Promise<ReplayMeasurement> {
  const keyPrefix = `r${randomBytes(3).toString('hex')}`;
  const guard = { firstSeq: '1', streamMaxLen: 0, streamMaxAgeMs: 0, keyPrefix };
  const events = benchEvents(entries);
  for (const part of chunk(events, 1_000)) await applyChunk(redis, 'bench', part, guard);
  const stream = shardKeys('bench', keyPrefix).stream;

  // What the replay must find: the mutations of the last events, in the model.
  const expected = emptyStateModel();
  for (const event of events.slice(-replayWindow)) applyMutation(expected, event.mutation);

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
  await redis.del(
    ...Object.values(shardKeys('bench', keyPrefix)),
    stateKey('bench', 'leaderboard', keyPrefix),
  );
  return {
    streamEntries: entries,
    tailEntries,
    tailReplayMs,
    rebuildMs,
    rebuildOutcome,
    correct,
  };
}
