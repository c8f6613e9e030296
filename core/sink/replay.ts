/**
 * Replay: reads records of Kafka again and applies them through the same core and guard as the
 * sink. The guard makes it idempotent, so overlapping or repeated replays are harmless: events
 * Redis holds are duplicates, events it lost are applied again. Bounded per run by `limit`; the
 * result says where to go on from.
 */
import type { MSKRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import type { SinkConfig } from '../config/config.ts';
import { inEnglish } from '../config/zod-english.ts';
import { ReplayRequestError } from '../errors.ts';
import { maxBigInt } from '../events/int64.ts';
import { topicPartition } from '../events/topic-partition.ts';
import { type KafkaConnection, withAdmin } from '../kafka/connection.ts';
import { toMskRecord } from '../kafka/msk-event.ts';
import { offsetsAtTime, partitionRanges } from '../kafka/offsets.ts';
import { type RecordRange, readRecords } from '../kafka/read-records.ts';
import { applyRecords, type BatchSummary, type HeldCheckpoints } from './apply-records.ts';
import type { SinkPorts } from './ports.ts';

export type ReplayRequest =
  | { kind: 'range'; topic: string; partition: number; from: bigint; to?: bigint }
  | { kind: 'since'; topic: string; timestampMs: number };

/** An integer from 0. */
const natural = () => z.number().check(z.int(), z.nonnegative());

const offset = z.pipe(
  z.union([z.string().check(z.regex(/^\d+$/)), natural()]),
  z.transform((v) => BigInt(v)),
);

const topic = z.string().check(z.minLength(1));
const limit = z.optional(z.number().check(z.int(), z.positive(), z.maximum(1_000_000)));

const replayEventSchema = z.union([
  z.object({ topic, partition: natural(), from: offset, to: z.optional(offset), limit }),
  z.object({
    topic,
    since: z.union([natural(), z.iso.datetime({ offset: true })]),
    limit,
  }),
]);

function toReplayRequest(event: z.output<typeof replayEventSchema>): ReplayRequest {
  if ('since' in event) {
    const timestampMs = typeof event.since === 'number' ? event.since : Date.parse(event.since);
    return { kind: 'since', topic: event.topic, timestampMs };
  }
  return {
    kind: 'range',
    topic: event.topic,
    partition: event.partition,
    from: event.from,
    ...(event.to === undefined ? {} : { to: event.to }),
  };
}

/** A replay request from an invocation event or the CLI, checked: a clear error otherwise. */
export function parseReplayRequest(event: unknown): {
  request: ReplayRequest;
  limit: number | undefined;
} {
  const parsed = replayEventSchema.safeParse(event, inEnglish);
  if (!parsed.success)
    throw new ReplayRequestError(`not a replay request: ${z.prettifyError(parsed.error)}`);
  return { request: toReplayRequest(parsed.data), limit: parsed.data.limit };
}

export interface ReplayResult {
  ranges: RecordRange[];
  records: number;
  summary: Omit<BatchSummary, 'errors'>;
  /** Records that failed again (Redis unavailable): run the replay again from `resumeAt`. */
  failed: number;
  /** Per `<topic>-<partition>`, the first offset this run did not finish; absent when done. */
  resumeAt: Map<string, bigint>;
  errors: string[];
}

/** The ranges a request means, clipped to what the log holds now. */
export async function rangesOf(
  connection: KafkaConnection,
  request: ReplayRequest,
): Promise<RecordRange[]> {
  return withAdmin(connection, async (admin) => {
    const partitions = await partitionRanges(admin, [request.topic]);
    if (request.kind === 'range') {
      const p = partitions.find((r) => r.partition === request.partition);
      if (!p)
        throw new ReplayRequestError(
          `topic ${request.topic} has no partition ${request.partition}`,
        );
      const from = maxBigInt(request.from, p.earliest);
      const to = request.to === undefined || request.to > p.end ? p.end : request.to;
      return [{ topic: request.topic, partition: request.partition, from, to }];
    }
    const starts = await offsetsAtTime(admin, request.topic, request.timestampMs);
    return partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      from: starts.get(topicPartition(p)) ?? p.end,
      to: p.end,
    }));
  });
}

/**
 * Applies the records of `ranges` again. An operator's replay runs with the sink's checks: a
 * range that starts past what a partition's ledger says was handled is refused, as the sink
 * would refuse it. A `repair` (the drift check's, of what Redis lost, from the first offset
 * missing) skips them and closes the ledger's hole over what it read.
 */
export async function replay(
  connection: KafkaConnection,
  ports: SinkPorts,
  config: Pick<SinkConfig, 'decode' | 'chunkSize' | 'shardConcurrency'>,
  ranges: RecordRange[],
  limit: number,
  {
    repair = false,
    held,
  }: {
    repair?: boolean;
    /** A repair's: per partition, what Redis held when it was planned (HeldCheckpoints). */
    held?: ReadonlyMap<string, HeldCheckpoints>;
  } = {},
): Promise<ReplayResult> {
  const consumed = await readRecords(connection, ranges, { limit });
  const records: Record<string, MSKRecord[]> = {};
  for (const record of consumed) {
    const id = topicPartition(record);
    records[id] ??= [];
    records[id].push(toMskRecord(record));
  }
  // What was read of each range: all of it, unless the limit cut it after its last record.
  const covered = new Map(
    ranges.map((range) => {
      const id = topicPartition(range);
      const last = records[id]?.at(-1);
      const cut = consumed.length >= limit;
      const partitionHeld = held?.get(id);
      return [
        id,
        {
          from: range.from,
          to: cut ? (last ? BigInt(last.offset) + 1n : range.from) : range.to,
          ...(partitionHeld ? { held: partitionHeld } : {}),
        },
      ] as const;
    }),
  );
  const { response, summary } = await applyRecords({ records }, ports, {
    decode: config.decode,
    chunkSize: config.chunkSize,
    shardConcurrency: config.shardConcurrency,
    ...(repair ? { repair: covered } : {}),
  });
  if (repair && ports.ledger) {
    // A range read whole that holds no record (transaction markers, compaction) closes too.
    for (const [id, { from, to }] of covered) {
      if (records[id] || to <= from) continue;
      await ports.ledger.advance(id, {
        from,
        to: to - 1n,
        shards: new Map(),
        deadLettered: undefined,
        repair: true,
      });
    }
  }

  const resumeAt = new Map<string, bigint>();
  for (const failure of response.batchItemFailures) {
    const { partition, offset } = failure.itemIdentifier;
    const current = resumeAt.get(partition);
    if (current === undefined || BigInt(offset) < current) resumeAt.set(partition, BigInt(offset));
  }
  // Ranges cut short by the limit go on after the last record read.
  for (const range of ranges) {
    const id = topicPartition(range);
    const last = records[id]?.at(-1);
    const next = last === undefined ? range.from : BigInt(last.offset) + 1n;
    if (!resumeAt.has(id) && next < range.to && consumed.length >= limit) resumeAt.set(id, next);
  }
  const { errors, ...counts } = summary;
  return {
    ranges,
    records: consumed.length,
    summary: counts,
    failed: response.batchItemFailures.length,
    resumeAt,
    errors: errors.map((e) => e.message),
  };
}
