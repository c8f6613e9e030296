/**
 * Produce-to-visible latency, read from a shard's delta stream: each entry's id time minus the
 * event's record timestamp, gathered in a histogram, in pages, so memory stays bounded.
 */
import { decodeStreamEntry, type RedisClient } from '../../core/index.ts';

/** Latency of each stream entry read: its id's time minus the event's record timestamp (`ts`). */
export function entryLatencies(page: [string, string[]][]): number[] {
  return page.map(
    ([id, fields]) => Number(id.split('-')[0]) - Number(decodeStreamEntry(fields).ts),
  );
}

/** The value at percentile `p` of a histogram (value -> count) holding `total` values. */
export function histogramPercentile(histogram: Map<number, number>, total: number, p: number) {
  const sorted = [...histogram].sort(([a], [b]) => a - b);
  let seen = 0;
  const rank = Math.floor((p / 100) * total);
  for (const [value, count] of sorted) {
    seen += count;
    if (seen > rank) return value;
  }
  return Number.NaN;
}

/** Produce-to-visible latency percentiles from the entries the stream still holds, in pages. */
export async function streamLatency(
  redis: RedisClient,
  stream: string,
): Promise<{ p50: number; p99: number; entries: number }> {
  const histogram = new Map<number, number>();
  let entries = 0;
  let from = '-';
  for (;;) {
    const page = await redis.xrange(stream, from, '+', 'COUNT', 5_000);
    for (const latency of entryLatencies(page)) {
      histogram.set(latency, (histogram.get(latency) ?? 0) + 1);
      entries += 1;
    }
    if (page.length < 5_000) break;
    from = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
  return {
    p50: histogramPercentile(histogram, entries, 50),
    p99: histogramPercentile(histogram, entries, 99),
    entries,
  };
}
