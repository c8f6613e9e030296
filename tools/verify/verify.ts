/**
 * verify: recomputes from the topic the state the sink must have written, and lists where Redis
 * differs. The guarantee says a checker that recomputes the state from the unique events must
 * agree with Redis exactly; this is that checker, for operators.
 *
 * - expected-state.ts, expectedState(): pure. Records in, expected state out, by the model of
 *   lua/applyBatch-6.lua's sequence guard and mutations (core/guard/model.ts).
 * - compare.ts, verifyState() and compareDeadLetters(): reads the state keys of the expected
 *   shards and the dead-letter stream, and compares.
 * - verify.ts (here), verifyFromTopic(): reads whole partitions from Kafka, then both of the above.
 * - report.ts, formatVerifyReport(): the result as terminal lines.
 */
import {
  deadLetterCounts,
  type GuardOptions,
  type KafkaConnection,
  partitionRanges,
  type RedisClient,
  readRecords,
  type SinkConfig,
  toMskRecord,
  topicPartition,
  withAdmin,
} from '../../core/index.ts';

import { compareDeadLetters, type StateDifference, verifyState } from './compare.ts';
import { expectedState } from './expected-state.ts';

export interface VerifyFromTopicOptions {
  connection: KafkaConnection;
  redis: RedisClient;
  topics: string[];
  /** The sink's configuration: how it decodes, where its keys are, where scopes start. */
  sink: Pick<SinkConfig, 'decode'> & { guard: Pick<GuardOptions, 'firstSeq' | 'keyPrefix'> };
  /** How long reading the topics may take in all (readRecords' deadline). */
  readTimeoutMs?: number;
}

export interface VerifyResult {
  /**
   * False when some partition no longer starts at offset 0: retention deleted records the state
   * holds, so the expected state cannot be recomputed and nothing was compared.
   */
  complete: boolean;
  /** The partitions that no longer start at offset 0, with their first offset. */
  firstOffsets: { topicPartition: string; earliest: bigint }[];
  partitions: number;
  records: number;
  /**
   * Offsets inside the partitions' ranges that held no record: compaction or transaction
   * markers. Compacted records would be missing from the expected state.
   */
  missingOffsets: number;
  events: number;
  late: number;
  duplicates: number;
  /** Events their mutation refused: in the stream with their reason, not in the state. */
  refused: number;
  invalid: number;
  rejected: number;
  differences: StateDifference[];
}

/** Every record of the topics, from offset 0 to the end, against the state in Redis. */
export async function verifyFromTopic(options: VerifyFromTopicOptions): Promise<VerifyResult> {
  const { connection, redis, topics, sink } = options;
  const ranges = await withAdmin(connection, (admin) => partitionRanges(admin, topics));
  const firstOffsets = ranges
    .filter((r) => r.earliest > 0n)
    .map((r) => ({ topicPartition: topicPartition(r), earliest: r.earliest }));
  const counts = { events: 0, late: 0, duplicates: 0, refused: 0, invalid: 0, rejected: 0 };
  if (firstOffsets.length > 0) {
    return {
      complete: false,
      firstOffsets,
      partitions: ranges.length,
      records: 0,
      missingOffsets: 0,
      ...counts,
      differences: [],
    };
  }
  const consumed = await readRecords(
    connection,
    ranges.map((r) => ({ topic: r.topic, partition: r.partition, from: r.earliest, to: r.end })),
    options.readTimeoutMs === undefined ? {} : { timeoutMs: options.readTimeoutMs },
  );
  const expected = expectedState(consumed.map(toMskRecord), {
    decode: sink.decode,
    firstSeq: sink.guard.firstSeq,
  });
  const differences = [
    ...(await verifyState(redis, expected, { keyPrefix: sink.guard.keyPrefix })),
    ...compareDeadLetters(
      expected.deadLetters,
      await deadLetterCounts(redis, sink.guard.keyPrefix, topics),
    ),
  ];
  const span = ranges.reduce((sum, r) => sum + (r.end - r.earliest), 0n);
  return {
    complete: true,
    firstOffsets,
    partitions: ranges.length,
    records: expected.records,
    missingOffsets: Number(span) - expected.records,
    events: expected.events,
    late: expected.late,
    duplicates: expected.duplicates,
    refused: expected.refused,
    invalid: expected.invalid,
    rejected: expected.rejected,
    differences,
  };
}
