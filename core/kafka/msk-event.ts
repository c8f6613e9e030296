/**
 * Kafka records as Lambda's Kafka event source mapping hands them to a function: the MSK event
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html). Records are grouped under
 * `<topic>-<partition>`, keys and values are base64, header values are arrays of byte values,
 * and a record without a key has no `key` field.
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { topicPartition } from '../events/topic-partition.ts';

/** A record as the Kafka client read it. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null | undefined;
  value: Buffer | null | undefined;
  headers: Iterable<[Buffer, Buffer]>;
}

export interface EventSourceIdentity {
  /** The cluster ARN the event names; a local one by default. */
  eventSourceArn: string;
  /** Comma-separated bootstrap servers, as the event carries them. */
  bootstrapServers: string;
}

export function toMskRecord(record: ConsumedRecord): MSKRecord {
  const mskRecord = {
    topic: record.topic,
    partition: record.partition,
    offset: Number(record.offset),
    timestamp: Number(record.timestamp),
    timestampType: 'CREATE_TIME',
    ...(record.key === null || record.key === undefined
      ? {}
      : { key: record.key.toString('base64') }),
    value:
      record.value === null || record.value === undefined ? null : record.value.toString('base64'),
    headers: [...record.headers].map(([name, value]) => ({ [name.toString('utf8')]: [...value] })),
  };
  return mskRecord as MSKRecord;
}

export function toMskEvent(
  records: readonly ConsumedRecord[],
  identity: EventSourceIdentity,
): MSKEvent {
  const grouped: MSKEvent['records'] = {};
  for (const record of records) {
    const id = topicPartition(record);
    grouped[id] ??= [];
    grouped[id].push(toMskRecord(record));
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: identity.eventSourceArn,
    bootstrapServers: identity.bootstrapServers,
    records: grouped,
  };
}
