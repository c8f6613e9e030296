/**
 * What Kafka knows about positions: where each partition starts and ends, what a consumer group
 * has committed, and which offset a timestamp falls on. Read with the admin API.
 */
import type { Admin } from '@platformatic/kafka';
import { KafkaReadError } from '../errors.ts';
import { topicPartition } from '../events/topic-partition.ts';

export interface PartitionRange {
  topic: string;
  partition: number;
  /** The first offset still in the log (retention deletes older ones). */
  earliest: bigint;
  /** The log end offset: the offset the next record will get. */
  end: bigint;
}

/** Kafka's ListOffsets special timestamps. */
const LATEST = -1n;
const EARLIEST = -2n;

async function partitionsOf(admin: Admin, topics: string[]): Promise<Map<string, number[]>> {
  const metadata = await admin.metadata({ topics });
  const partitions = new Map<string, number[]>();
  for (const topic of topics) {
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    if (count === 0) throw new KafkaReadError(`topic ${topic} does not exist`);
    partitions.set(
      topic,
      Array.from({ length: count }, (_, i) => i),
    );
  }
  return partitions;
}

async function listAt(admin: Admin, partitions: Map<string, number[]>, timestamp: bigint) {
  const listed = await admin.listOffsets({
    topics: [...partitions].map(([name, indexes]) => ({
      name,
      partitions: indexes.map((partitionIndex) => ({ partitionIndex, timestamp })),
    })),
  });
  const offsets = new Map<string, bigint>();
  for (const topic of listed) {
    for (const p of topic.partitions)
      offsets.set(topicPartition({ topic: topic.name, partition: p.partitionIndex }), p.offset);
  }
  return offsets;
}

/** Every partition of the topics, with its earliest and end offsets. */
export async function partitionRanges(admin: Admin, topics: string[]): Promise<PartitionRange[]> {
  const partitions = await partitionsOf(admin, topics);
  const [earliest, end] = await Promise.all([
    listAt(admin, partitions, EARLIEST),
    listAt(admin, partitions, LATEST),
  ]);
  return [...partitions].flatMap(([topic, indexes]) =>
    indexes.map((partition) => ({
      topic,
      partition,
      earliest: earliest.get(topicPartition({ topic, partition })) ?? 0n,
      end: end.get(topicPartition({ topic, partition })) ?? 0n,
    })),
  );
}

/** The group's committed offsets (the next offset it will read), by `<topic>-<partition>`. */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<Map<string, bigint>> {
  const partitions = await partitionsOf(admin, topics);
  const [group] = await admin.listConsumerGroupOffsets({
    groups: [
      {
        groupId,
        topics: [...partitions].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
      },
    ],
  });
  const committed = new Map<string, bigint>();
  for (const topic of group?.topics ?? []) {
    for (const p of topic.partitions) {
      // -1: the group has committed nothing for this partition.
      if (p.committedOffset >= 0n)
        committed.set(
          topicPartition({ topic: topic.name, partition: p.partitionIndex }),
          p.committedOffset,
        );
    }
  }
  return committed;
}

/** The first offset of each partition whose record timestamp is at or after `timestampMs`. */
export async function offsetsAtTime(
  admin: Admin,
  topic: string,
  timestampMs: number,
): Promise<Map<string, bigint>> {
  const partitions = await partitionsOf(admin, [topic]);
  const offsets = await listAt(admin, partitions, BigInt(timestampMs));
  const ends = await listAt(admin, partitions, LATEST);
  // A timestamp after the last record lists -1: nothing to read there, so the end.
  for (const [id, offset] of offsets) if (offset < 0n) offsets.set(id, ends.get(id) ?? 0n);
  return offsets;
}
