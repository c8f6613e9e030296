/**
 * The sink core's ports (ports.ts) bound to one Redis, and, for the ledger's holes, to Kafka
 * when the sink may read it. Each port is one wrapper call: applyChunk (lua/applyBatch-6.lua),
 * registerShard (the registry's SADD), appendDeadLetters (lua/deadLetter-2.lua), and the
 * ledger's read and advance (lua/advanceLedger-1.lua). With `guard.replicaWait`, each of these
 * writes waits for its replicas before it counts as done. The Kafka reads behind the ledger's
 * holes (core/kafka/has-records.ts) are loaded when the first hole is seen.
 */
import type { SinkConfig } from '../config/config.ts';
import type { KafkaConnection } from '../kafka/connection.ts';
import { applyChunk } from '../redis/apply-batch.ts';
import type { RedisClient } from '../redis/client.ts';
import { appendDeadLetters } from '../redis/dead-letter.ts';
import { advanceLedger, readLedgers } from '../redis/ledger.ts';
import { registerShard } from '../redis/shard-registry.ts';
import type { LedgerPort, SinkPorts } from './ports.ts';

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
          async hasRecords(partition, from, to) {
            // At the first hole only: the Kafka client is most of what the module loads, and
            // apply-events' asset holds it apart (infra/constructs/function-code.ts).
            const { hasRecords } = await import('#kafka/has-records');
            return hasRecords(await kafka(), partition, from, to);
          },
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
