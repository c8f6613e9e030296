/**
 * The partial batch response of a Kafka event source mapping with ReportBatchItemFailures.
 * `@types/aws-lambda` has the MSK event but not this response; its shape is documented at
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { topicPartition } from '../events/topic-partition.ts';

export interface KafkaItemIdentifier {
  /** `<topic>-<partition>`, as the event names its record lists. */
  partition: string;
  offset: number;
}

export interface KafkaBatchResponse {
  batchItemFailures: { itemIdentifier: KafkaItemIdentifier }[];
}

/** The records of an event, each partition's in offset order. */
export function recordsByPartition(event: Pick<MSKEvent, 'records'>): Map<string, MSKRecord[]> {
  const partitions = new Map<string, MSKRecord[]>();
  for (const records of Object.values(event.records ?? {})) {
    // A list is one partition's: its id is made once, and again only where a record differs.
    let last: MSKRecord | undefined;
    let list: MSKRecord[] = [];
    for (const record of records) {
      if (
        last === undefined ||
        record.topic !== last.topic ||
        record.partition !== last.partition
      ) {
        const id = topicPartition(record);
        list = partitions.get(id) ?? [];
        partitions.set(id, list);
      }
      list.push(record);
      last = record;
    }
  }
  for (const list of partitions.values()) list.sort((a, b) => a.offset - b.offset);
  return partitions;
}

/**
 * Which offsets Lambda redelivers after a partial failure is not documented for Kafka, so the
 * response names the first failed record of each partition and every record after it: no
 * reading of the response can then acknowledge a record past a failed one.
 */
export function batchResponse(
  partitions: ReadonlyMap<string, readonly MSKRecord[]>,
  firstFailedOffset: ReadonlyMap<string, number>,
): KafkaBatchResponse {
  const batchItemFailures: KafkaBatchResponse['batchItemFailures'] = [];
  for (const [partition, records] of partitions) {
    const first = firstFailedOffset.get(partition);
    if (first === undefined) continue;
    for (const record of records) {
      if (record.offset >= first)
        batchItemFailures.push({ itemIdentifier: { partition, offset: record.offset } });
    }
  }
  return { batchItemFailures };
}
