/**
 * What a shard's delta stream says the guard did, op by op: one entry per event applied or
 * refused (with its reason), none for a duplicate or a rejection. Read in pages, so memory is
 * bounded by the ops and reasons. The stream is trimmed (SEQGUARD_STREAM_MAX_LEN, by age), so
 * its counts speak for every event only while it holds them all: `entries` says how many it has.
 */
import { decodeStreamEntry, type RedisClient } from '../../core/index.ts';
import type { OpCounts } from './traffic-model.ts';

export interface StreamOutcomes {
  /** Entries in the stream. */
  entries: number;
  /** op -> its entries: applied, refused by reason. */
  byOp: Map<string, OpCounts>;
}

export async function streamOutcomes(
  redis: RedisClient,
  stream: string,
  pageSize = 5_000,
): Promise<StreamOutcomes> {
  const outcomes: StreamOutcomes = { entries: 0, byOp: new Map() };
  let from = '-';
  for (;;) {
    const page = await redis.xrange(stream, from, '+', 'COUNT', pageSize);
    for (const [, fields] of page) {
      const { op, refused } = decodeStreamEntry(fields);
      const counts = outcomes.byOp.get(op) ?? { applied: 0, refused: new Map<string, number>() };
      outcomes.byOp.set(op, counts);
      if (refused === undefined) counts.applied += 1;
      else counts.refused.set(refused, (counts.refused.get(refused) ?? 0) + 1);
      outcomes.entries += 1;
    }
    if (page.length < pageSize) return outcomes;
    from = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
}
