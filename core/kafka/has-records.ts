/**
 * Whether Kafka still holds a record in a range of one partition: how the sink tells a hole in
 * a partition's ledger from offsets that hold no record (transaction markers, compaction). The
 * sink's ledger port (core/sink/redis-ports.ts) loads this module at its first hole, and with it
 * the Kafka client: a cold start of apply-events does not need them.
 */
import { type KafkaConnection, withAdmin } from './connection.ts';
import { partitionRanges } from './offsets.ts';
import { readRecords } from './read-records.ts';

/**
 * Whether the log holds a record of the partition in [from, to), clipped to what the log still
 * holds: one record is enough.
 */
export async function hasRecords(
  connection: KafkaConnection,
  { topic, partition }: { topic: string; partition: number },
  from: bigint,
  to: bigint,
): Promise<boolean> {
  const range = await withAdmin(connection, async (admin) =>
    (await partitionRanges(admin, [topic])).find((r) => r.partition === partition),
  );
  if (!range) return false;
  const start = from > range.earliest ? from : range.earliest;
  const end = to < range.end ? to : range.end;
  if (start >= end) return false;
  const records = await readRecords(connection, [{ topic, partition, from: start, to: end }], {
    perRange: 1,
    idleMs: 1_000,
    timeoutMs: 10_000,
  });
  return records.length > 0;
}
