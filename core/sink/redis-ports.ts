/**
 * The sink core's ports (ports.ts) bound to one Redis, and, for the ledger's holes, to Kafka
 * when the sink may read it. Each port is one wrapper call: applyChunk (lua/applyBatch-6.lua),
 * registerShard (the registry's SADD), appendDeadLetters (lua/deadLetter-2.lua), and the
 * ledger's read and advance (lua/advanceLedger-1.lua). With `guard.replicaWait`, each of these
 * writes waits for its replicas before it counts as done.
 */
import type { SinkConfig } from '../config/config.ts';
import { type KafkaConnection, withAdmin } from '../kafka/connection.ts';
import { partitionRanges } from '../kafka/offsets.ts';
import { readRecords } from '../kafka/read-records.ts';
import { applyChunk } from '../redis/apply-batch.ts';
import type { RedisClient } from '../redis/client.ts';
import { appendDeadLetters } from '../redis/dead-letter.ts';
import { advanceLedger, readLedgers } from '../redis/ledger.ts';
import { registerShard } from '../redis/shard-registry.ts';
import type { LedgerPort, SinkPorts } from './ports.ts';

/**
 * Whether the log holds a record of the partition in [from, to), clipped to what the log still
 * holds: one record is enough.
 */
async function hasRecords(
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

/**
 * The ports of the sink on `redis`. A shard is entered in the registry once per process: the
 * first time a chunk of it is applied (and again after a registration that failed).
 */
export function createSinkPorts(
  redis: RedisClient,
  guard: SinkConfig['guard'],
  kafka?: () => Promise<KafkaConnection>,
): SinkPorts {
  const registered = new Set<string>();
  const ledger: LedgerPort = {
    read: async (partition) =>
      (await readLedgers(redis, [partition], guard.keyPrefix)).get(partition),
    advance: (partition, advance) =>
      advanceLedger(redis, partition, advance, guard.keyPrefix, guard.replicaWait),
    ...(kafka
      ? {
          hasRecords: async (partition, from, to) => hasRecords(await kafka(), partition, from, to),
        }
      : {}),
  };
  return {
    applyChunk: (shard, events, expected) => applyChunk(redis, shard, events, guard, expected),
    async registerShard(shard) {
      if (registered.has(shard)) return;
      await registerShard(redis, shard, guard.keyPrefix, guard.replicaWait);
      registered.add(shard);
    },
    appendDeadLetters: (letters, expected) =>
      appendDeadLetters(redis, letters, guard.keyPrefix, expected, guard.replicaWait),
    ledger,
  };
}
