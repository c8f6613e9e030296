/**
 * The sink's core: one Lambda event of Kafka records in, the guard's outcomes and the partial
 * batch response out. Plain data and two narrow ports, so it runs the same against Redis, the
 * local emulator, or a test double.
 *
 * Per record: decode -> valid events grouped by state shard -> chunks through the guard, the
 * chunks of one shard in order, shards side by side. Invalid records and events the guard
 * rejects go to the dead-letter stream and count as processed. A chunk that fails fails its
 * events and every later chunk of its shard; each partition is then reported from its first
 * failed record on, and only records below that point are dead-lettered (the rest come again).
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { type DecodeOptions, decodeRecord } from '../shared/events/decode.ts';
import type { GuardedEvent } from '../shared/events/types.ts';
import {
  batchResponse,
  type KafkaBatchResponse,
  recordsByPartition,
} from '../shared/kafka/batch-response.ts';
import { chunk, type GuardOutcome } from '../shared/redis/apply-batch.ts';
import type { DeadLetter, DeadLetterOutcome } from '../shared/redis/dead-letter.ts';

export interface SinkPorts {
  applyChunk(shard: string, events: readonly GuardedEvent[]): Promise<GuardOutcome[]>;
  appendDeadLetters(letters: readonly DeadLetter[]): Promise<DeadLetterOutcome[]>;
}

export interface ApplyRecordsOptions {
  decode: DecodeOptions;
  chunkSize: number;
  shardConcurrency: number;
}

export interface BatchSummary {
  records: number;
  /** Every applied event, in order, late or gap-opening ones included. */
  applied: number;
  late: number;
  gapsOpened: number;
  duplicates: number;
  /** Records now in the dead-letter stream (appended now, or found there from a redelivery). */
  deadLettered: number;
  /** Records named in the response, to be delivered again. */
  retried: number;
  /** Why records failed, once per failed call. */
  errors: Error[];
}

export interface BatchResult {
  response: KafkaBatchResponse;
  summary: BatchSummary;
}

type Fate =
  | { kind: 'pending' }
  | { kind: 'guarded'; outcome: GuardOutcome }
  | { kind: 'deadLetter'; reason: string }
  | { kind: 'failed' };

interface Item {
  partition: string;
  record: MSKRecord;
  event: GuardedEvent | null;
  fate: Fate;
}

async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function decodeAll(partitions: Map<string, MSKRecord[]>, options: DecodeOptions): Item[] {
  const items: Item[] = [];
  for (const [partition, records] of partitions) {
    for (const record of records) {
      const decoded = decodeRecord(record, options);
      items.push(
        decoded.kind === 'event'
          ? { partition, record, event: decoded.event, fate: { kind: 'pending' } }
          : {
              partition,
              record,
              event: null,
              fate: { kind: 'deadLetter', reason: decoded.invalid.reason },
            },
      );
    }
  }
  return items;
}

function groupByShard(items: Item[]): Map<string, Item[]> {
  const shards = new Map<string, Item[]>();
  for (const item of items) {
    if (item.event === null) continue;
    const list = shards.get(item.event.shard) ?? [];
    list.push(item);
    shards.set(item.event.shard, list);
  }
  return shards;
}

async function guardShard(
  shard: string,
  items: Item[],
  ports: SinkPorts,
  chunkSize: number,
  errors: Error[],
) {
  const chunks = chunk(items, chunkSize);
  for (const [index, part] of chunks.entries()) {
    try {
      const outcomes = await ports.applyChunk(
        shard,
        part.map((item) => item.event as GuardedEvent),
      );
      part.forEach((item, i) => {
        const outcome = outcomes[i] as GuardOutcome;
        item.fate =
          outcome.kind === 'rejected'
            ? { kind: 'deadLetter', reason: `guard: ${outcome.message}` }
            : { kind: 'guarded', outcome };
      });
    } catch (error) {
      errors.push(error as Error);
      for (const later of chunks.slice(index).flat()) later.fate = { kind: 'failed' };
      return;
    }
  }
}

function firstFailedOffsets(items: Item[]): Map<string, number> {
  const first = new Map<string, number>();
  for (const item of items) {
    if (item.fate.kind !== 'failed') continue;
    const current = first.get(item.partition);
    if (current === undefined || item.record.offset < current)
      first.set(item.partition, item.record.offset);
  }
  return first;
}

async function deadLetterBelowFailures(items: Item[], ports: SinkPorts, errors: Error[]) {
  const failedFrom = firstFailedOffsets(items);
  const letters = items.filter((item) => {
    if (item.fate.kind !== 'deadLetter') return false;
    const first = failedFrom.get(item.partition);
    return first === undefined || item.record.offset < first;
  });
  const sending = new Set(letters);
  for (const item of items) {
    // At or after a failure of its partition: it comes again, and is dead-lettered then.
    if (item.fate.kind === 'deadLetter' && !sending.has(item)) item.fate = { kind: 'failed' };
  }
  try {
    await ports.appendDeadLetters(
      letters.map((item) => ({
        record: item.record,
        reason: (item.fate as { reason: string }).reason,
      })),
    );
    return letters.length;
  } catch (error) {
    errors.push(error as Error);
    for (const item of letters) item.fate = { kind: 'failed' };
    return 0;
  }
}

function summarize(
  items: Item[],
  deadLettered: number,
  retried: number,
  errors: Error[],
): BatchSummary {
  const summary: BatchSummary = {
    records: items.length,
    applied: 0,
    late: 0,
    gapsOpened: 0,
    duplicates: 0,
    deadLettered,
    retried,
    errors,
  };
  for (const { fate } of items) {
    if (fate.kind !== 'guarded') continue;
    const kind = fate.outcome.kind;
    if (kind === 'duplicate') summary.duplicates += 1;
    else summary.applied += 1;
    if (kind === 'appliedLate') summary.late += 1;
    if (kind === 'gapOpened') summary.gapsOpened += 1;
  }
  return summary;
}

export async function applyRecords(
  event: Pick<MSKEvent, 'records'>,
  ports: SinkPorts,
  options: ApplyRecordsOptions,
): Promise<BatchResult> {
  const partitions = recordsByPartition(event);
  const items = decodeAll(partitions, options.decode);
  const errors: Error[] = [];

  await forEachConcurrently(
    [...groupByShard(items)],
    options.shardConcurrency,
    ([shard, shardItems]) => guardShard(shard, shardItems, ports, options.chunkSize, errors),
  );
  const deadLettered = await deadLetterBelowFailures(items, ports, errors);

  const response = batchResponse(partitions, firstFailedOffsets(items));
  return {
    response,
    summary: summarize(items, deadLettered, response.batchItemFailures.length, errors),
  };
}
