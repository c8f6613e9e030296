/**
 * The dead letters of the soak's topic, read in pages with memory bounded by the number of
 * partitions and reasons: how many there are, whether any record is there twice, and why they
 * are there. The deadLetter script appends a record only past its partition's mark, so each
 * partition's offsets come in increasing order: an offset at or below the previous one of its
 * partition is a record dead-lettered again (or out of order), which is wrong either way.
 */
import { decodeDeadLetterEntry, type RedisClient, topicOf } from '../../core/index.ts';

export interface DeadLetterCheck {
  entries: number;
  /** Entries whose offset is not above the previous one of their partition. */
  outOfOrder: number;
  /** Entries by the first words of their reason (e.g. "value is not UTF-8", "schema: seq"). */
  byReason: Map<string, number>;
}

/** The reason without what differs per record (sizes, field values). */
export function reasonClass(reason: string): string {
  return reason
    .replace(/^value is \d+ bytes, above the limit of \d+/, 'value too large')
    .replace(/^value is not JSON:.*/, 'value is not JSON')
    .replace(/^(schema: [\w.]+):.*/, '$1')
    .slice(0, 60);
}

export async function checkDeadLetters(
  redis: RedisClient,
  stream: string,
  topic: string,
  pageSize = 5_000,
): Promise<DeadLetterCheck> {
  const last = new Map<string, bigint>();
  const result: DeadLetterCheck = { entries: 0, outOfOrder: 0, byReason: new Map() };
  let from = '-';
  for (;;) {
    const page = await redis.xrange(stream, from, '+', 'COUNT', pageSize);
    for (const [, fields] of page) {
      const letter = decodeDeadLetterEntry(fields);
      const tp = letter.tp;
      if (topicOf(tp) !== topic) continue;
      const offset = BigInt(letter.offset);
      const previous = last.get(tp);
      if (previous !== undefined && offset <= previous) result.outOfOrder += 1;
      last.set(tp, offset);
      result.entries += 1;
      const reason = reasonClass(letter.reason);
      result.byReason.set(reason, (result.byReason.get(reason) ?? 0) + 1);
    }
    if (page.length < pageSize) return result;
    from = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
}
