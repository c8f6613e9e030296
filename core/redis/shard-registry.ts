/**
 * The shard registry's one writer: the set of every shard the sink wrote to
 * (keys.ts shardRegistryKey), which lets the drift check tell a shard whose keys vanished from
 * one never written (inspect.ts listShards reads it). The sink enters a shard through its port
 * (core/sink/ports.ts, `registerShard`), after each chunk applied to it.
 */

import { shardRegistryKey } from '../layout/keys.ts';
import type { RedisClient } from './client.ts';
import { type ReplicaWait, writeAcknowledged } from './replica-wait.ts';
import { redisCallError } from './script-error.ts';

/** SADD of the shard, acknowledged by `replicaWait`'s replicas when it asks for any. */
export async function registerShard(
  redis: RedisClient,
  shard: string,
  keyPrefix: string,
  replicaWait?: ReplicaWait,
): Promise<void> {
  try {
    await writeAcknowledged(redis, replicaWait, (c) => c.sadd(shardRegistryKey(keyPrefix), shard));
  } catch (error) {
    throw redisCallError(error, { subject: `shard "${shard}"`, call: 'registering the shard' });
  }
}
