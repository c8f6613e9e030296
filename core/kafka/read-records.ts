/**
 * Reads a range of records of one partition again, for replay, for verify and for the age of
 * the oldest record not yet applied. It uses a consumer of its own (a throw-away group that
 * never commits), so the event source mapping's group and offsets are never touched.
 */
import { randomUUID } from 'node:crypto';
import type { Message } from '@platformatic/kafka';
import { KafkaReadError } from '../errors.ts';
import { topicPartition } from '../events/topic-partition.ts';
import { createConsumer, type KafkaConnection } from './connection.ts';
import type { ConsumedRecord } from './msk-event.ts';

export interface RecordRange {
  topic: string;
  partition: number;
  /** First offset to read. */
  from: bigint;
  /** Offset to stop before (exclusive): at most the partition's end offset. */
  to: bigint;
}

/**
 * The records in [from, to) of each range, in offset order. Offsets missing from a range
 * (compaction, transaction markers) are simply absent. Stops after `limit` records in all, and
 * takes at most `perRange` records of each range.
 */
export async function readRecords(
  connection: KafkaConnection,
  ranges: RecordRange[],
  options: { limit?: number; perRange?: number; idleMs?: number; timeoutMs?: number } = {},
): Promise<ConsumedRecord[]> {
  const wanted = ranges.filter((r) => r.to > r.from);
  if (wanted.length === 0) return [];
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const perRange = options.perRange ?? Number.POSITIVE_INFINITY;
  const taken = new Map<string, number>();
  const consumer = createConsumer(connection, {
    groupId: `seqguard-reader-${randomUUID()}`,
  });
  const records: ConsumedRecord[] = [];
  try {
    const stream = await consumer.consume({
      topics: [...new Set(wanted.map((r) => r.topic))],
      mode: 'manual',
      offsets: wanted.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.from })),
      autocommit: false,
      maxWaitTime: 200,
    });
    const open = new Map(wanted.map((r) => [topicPartition(r), r]));
    try {
      await new Promise<void>((resolve, reject) => {
        // The last offsets of a range may hold no record (a transaction marker, a compacted
        // record): once nothing arrives for idleMs, the ranges still open are done.
        let idle: NodeJS.Timeout | undefined;
        const armIdle = (ms = options.idleMs ?? 2_000) => {
          clearTimeout(idle);
          idle = setTimeout(resolve, ms);
        };
        const overall = setTimeout(
          () =>
            reject(new KafkaReadError(`reading records timed out after ${records.length} records`)),
          options.timeoutMs ?? 30_000,
        );
        const finish = () => {
          clearTimeout(idle);
          clearTimeout(overall);
          resolve();
        };
        stream.on('error', reject);
        stream.on('data', (message: Message<Buffer, Buffer, Buffer, Buffer>) => {
          armIdle();
          const id = topicPartition(message);
          const range = open.get(id);
          if (!range) return;
          if (message.offset >= range.from && message.offset < range.to) {
            records.push({ ...message, headers: message.headerEntries });
            taken.set(id, (taken.get(id) ?? 0) + 1);
          }
          if (message.offset >= range.to - 1n || (taken.get(id) ?? 0) >= perRange) open.delete(id);
          if (open.size === 0 || records.length >= limit) {
            stream.pause();
            finish();
          }
        });
        // The first fetch may wait on metadata and leaders: give it longer.
        armIdle(Math.max(options.idleMs ?? 2_000, 10_000));
      });
    } finally {
      await stream.close();
    }
  } finally {
    await consumer.close(true);
  }
  return records.sort((a, b) =>
    a.topic === b.topic
      ? a.partition - b.partition || Number(a.offset - b.offset)
      : a.topic < b.topic
        ? -1
        : 1,
  );
}
