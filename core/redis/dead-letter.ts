import { topicOf, topicPartition } from '../events/topic-partition.ts';
import { decodeDeadLetterEntry } from '../layout/codecs.ts';
import { deadLetterKeys } from '../layout/keys.ts';
import type { DeadLetter, DeadLetterOutcome, ExpectedCheckpoints } from '../sink/ports.ts';
import type { RedisClient } from './client.ts';
import { type ReplicaWait, writeAcknowledged } from './replica-wait.ts';
import { redisCallError } from './script-error.ts';

export async function appendDeadLetters(
  redis: RedisClient,
  letters: readonly DeadLetter[],
  keyPrefix: string,
  /** Per partition, the lowest mark the dead letters must hold (the ledger's); {} to repair. */
  expected: ExpectedCheckpoints = {},
  /** Replicas that must acknowledge the letters before they count as recorded. */
  replicaWait?: ReplicaWait,
): Promise<DeadLetterOutcome[]> {
  if (letters.length === 0) return [];
  const keys = deadLetterKeys(keyPrefix);
  const rows = letters.map(({ record, reason }) => [
    topicPartition(record),
    String(record.offset),
    reason,
    record.key ?? '',
    record.value ?? '',
    JSON.stringify(record.headers ?? []),
    String(record.timestamp),
  ]);
  let statuses: number[];
  try {
    statuses = await writeAcknowledged(redis, replicaWait, (c) =>
      c.deadLetter(keys.stream, keys.offsets, JSON.stringify(rows), JSON.stringify(expected)),
    );
  } catch (error) {
    throw redisCallError(error, {
      call: 'deadLetter',
      behind: (reading) =>
        `the dead letters hold less than was written (${reading}): their node lost writes; check-drift replays them`,
    });
  }
  return statuses.map((status) =>
    Number(status) === 1 ? { kind: 'appended' } : { kind: 'alreadyThere' },
  );
}

/**
 * How often each record (`<topic>-<partition>@<offset>`) of the given topics is in the
 * dead-letter stream, read in pages: exactly once is right, whatever the redeliveries.
 */
export async function deadLetterCounts(
  redis: RedisClient,
  keyPrefix: string,
  topics: readonly string[],
  pageSize = 5_000,
): Promise<Map<string, number>> {
  const stream = deadLetterKeys(keyPrefix).stream;
  const wanted = new Set(topics);
  const counts = new Map<string, number>();
  let from = '-';
  for (;;) {
    const page = await redis.xrange(stream, from, '+', 'COUNT', pageSize);
    for (const [, fields] of page) {
      const { tp, offset } = decodeDeadLetterEntry(fields);
      if (!wanted.has(topicOf(tp))) continue;
      const position = `${tp}@${offset}`;
      counts.set(position, (counts.get(position) ?? 0) + 1);
    }
    if (page.length < pageSize) return counts;
    from = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
}
