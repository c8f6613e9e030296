/**
 * Reading the delta stream back: the seed article's warm-up window (the last 10,000 entries,
 * which it claims to replay in under 200 ms) decoded (functions/shared/redis/layout.ts) and
 * folded, oldest first, into a fresh read model (the guard's model of the state), and a full rebuild
 * of a leaderboard from its stream (functions/shared/redis/rebuild.ts), at two stream sizes.
 */
import { randomBytes } from 'node:crypto';
import { applyMutation, emptyStateModel } from '../functions/shared/guard-model.ts';
import { applyChunk, chunk } from '../functions/shared/redis/apply-batch.ts';
import type { RedisClient } from '../functions/shared/redis/client.ts';
import { shardKeys } from '../functions/shared/redis/keys.ts';
import { decodeStreamEntry, entryMutation } from '../functions/shared/redis/layout.ts';
import { rebuildState } from '../functions/shared/redis/rebuild.ts';
import { benchEvents } from './apply-throughput.ts';

export interface ReplayMeasurement {
  streamEntries: number;
  tailEntries: number;
  tailReplayMs: number;
  rebuildMs: number;
  rebuildOutcome: string;
}

export async function measureReplayRebuild(
  redis: RedisClient,
  entries: number,
): Promise<ReplayMeasurement> {
  const keyPrefix = `r${randomBytes(3).toString('hex')}`;
  const guard = { firstSeq: '1', streamMaxLen: 0, streamMaxAgeMs: 0, keyPrefix };
  for (const part of chunk(benchEvents(entries), 1_000))
    await applyChunk(redis, 'bench', part, guard);

  const tailStarted = performance.now();
  const tail = await redis.xrevrange(
    shardKeys('bench', keyPrefix).stream,
    '+',
    '-',
    'COUNT',
    10_000,
  );
  const model = emptyStateModel();
  for (let i = tail.length - 1; i >= 0; i--) {
    applyMutation(model, entryMutation(decodeStreamEntry((tail[i] as [string, string[]])[1])));
  }
  const tailReplayMs = performance.now() - tailStarted;

  const rebuildStarted = performance.now();
  const outcome = await rebuildState(redis, { shard: 'bench', name: 'leaderboard', keyPrefix });
  const rebuildMs = performance.now() - rebuildStarted;
  await redis.del(...Object.values(shardKeys('bench', keyPrefix)));
  return {
    streamEntries: entries,
    tailEntries: tail.length,
    tailReplayMs,
    rebuildMs,
    rebuildOutcome: outcome.kind,
  };
}
