/**
 * Reading the delta stream back: the seed article's warm-up window (the last 10,000 entries,
 * which it claims to replay in under 200 ms) folded into a fresh read model, and a full rebuild
 * of a leaderboard from its stream (functions/shared/redis/rebuild.ts), at two stream sizes.
 */
import { randomBytes } from 'node:crypto';
import { applyChunk, chunk } from '../functions/shared/redis/apply-batch.ts';
import type { RedisClient } from '../functions/shared/redis/client.ts';
import { shardKeys } from '../functions/shared/redis/keys.ts';
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
  const scores = new Map<string, number>();
  for (const [, fields] of tail) {
    let target = '';
    let value = 0;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === 'target') target = fields[i + 1] as string;
      else if (fields[i] === 'value') value = Number(fields[i + 1]);
    }
    scores.set(target, (scores.get(target) ?? 0) + value);
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
