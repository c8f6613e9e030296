/** Builders of domain events and MSK records for tests. */
import { randomUUID } from 'node:crypto';
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { topicPartition } from '../../core/events/topic-partition.ts';
import type { GuardedEvent, Mutation } from '../../core/events/types.ts';
import { defaultMutations } from '../../core/mutations/builtins/index.ts';

/**
 * A built-in mutation from its event data ({key, member, delta}), checked as the decoder checks
 * it: `mutation('zincrby', { key: 'board', member: 'p', delta: 2 })`.
 */
export function mutation(op: string, data: Record<string, unknown>): Mutation {
  return defaultMutations.mutation(op, data);
}

/** A shard name no other test uses. */
export function uniqueShard(label = 'test'): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

export interface EventSpec {
  shard: string;
  scope?: string | null;
  seq?: string | number | null;
  topic?: string;
  partition?: number;
  offset: string | number;
  mutation?: Mutation;
  timestamp?: number;
}

export function guardedEvent(spec: EventSpec): GuardedEvent {
  const seq = spec.seq ?? null;
  return {
    shard: spec.shard,
    sequence: seq === null ? null : { scope: spec.scope ?? 'scope-a', seq: String(seq) },
    mutation:
      spec.mutation ?? mutation('zincrby', { key: 'leaderboard', member: 'player-1', delta: 1 }),
    record: {
      topic: spec.topic ?? 'events',
      partition: spec.partition ?? 0,
      offset: String(spec.offset),
      timestamp: spec.timestamp ?? 1_700_000_000_000,
    },
  };
}

export interface RecordSpec {
  topic?: string;
  partition?: number;
  offset: number;
  /** A value to JSON-encode, or raw bytes, or null for a tombstone. */
  value: unknown;
  key?: string | null;
  headers?: Record<string, string>[];
  timestamp?: number;
}

export function mskRecord(spec: RecordSpec): MSKRecord {
  const value =
    spec.value === null
      ? null
      : Buffer.isBuffer(spec.value)
        ? spec.value.toString('base64')
        : Buffer.from(
            typeof spec.value === 'string' ? spec.value : JSON.stringify(spec.value),
          ).toString('base64');
  const key =
    spec.key === undefined || spec.key === null
      ? undefined
      : Buffer.from(spec.key).toString('base64');
  return {
    topic: spec.topic ?? 'events',
    partition: spec.partition ?? 0,
    offset: spec.offset,
    timestamp: spec.timestamp ?? 1_700_000_000_000,
    timestampType: 'CREATE_TIME',
    ...(key === undefined ? {} : { key }),
    value: value as string,
    headers: (spec.headers ?? []).map((h) =>
      Object.fromEntries(Object.entries(h).map(([k, v]) => [k, [...Buffer.from(v)]])),
    ),
  } as MSKRecord;
}

/** An MSK event as the event source mapping sends it: records grouped by `<topic>-<partition>`. */
export function mskEvent(records: MSKRecord[]): MSKEvent {
  const grouped: MSKEvent['records'] = {};
  for (const record of records) {
    const id = topicPartition(record);
    grouped[id] ??= [];
    grouped[id].push(record);
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:us-east-1:123456789012:cluster/seqguard/abcd1234-ab12-cd34-ef56-abcdef123456-1',
    bootstrapServers: 'b-1.seqguard.abc123.c2.kafka.us-east-1.amazonaws.com:9098',
    records: grouped,
  };
}
