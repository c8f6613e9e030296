/**
 * Writes the sink acknowledges, each followed by WAIT on the same connection when replicas are
 * asked for (SEQGUARD_REDIS_WAIT_REPLICAS): so a failover to a replica that acknowledged loses
 * nothing the sink reported as done.
 *
 * WAIT counts the replicas that acknowledged the writes sent *on its own connection* before it
 * (https://redis.io/docs/latest/commands/wait/). It has no key, so on a cluster it must travel
 * with the write to the node that ran it: one pipeline of [write, WAIT], which ioredis sends to
 * the node of the write's slot, in order, on one connection. Not MULTI: inside a transaction (or
 * a script) WAIT does not block and only reports what was acknowledged so far.
 */
import { type ChainableCommander, Cluster } from 'ioredis';
import { RedisNotReplicatedError, RedisUnavailableError } from '../errors.ts';
import type { RedisClient } from './client.ts';

export interface ReplicaWait {
  /** Replicas that must acknowledge each write; 0 to not wait. */
  replicas: number;
  /** How long WAIT blocks before the write counts as not replicated. Never 0 (blocks forever). */
  timeoutMs: number;
}

/** Either the client itself or a pipeline of it: a write is queued the same way on both. */
export type Commander = RedisClient | ChainableCommander;

/**
 * Sends `write` and, when `wait` asks for replicas, WAIT right behind it. Resolves to the
 * write's reply; rejects with the write's own error (for the wrapper to classify), or with
 * RedisNotReplicatedError when fewer replicas acknowledged in time: the write may stand on the
 * primary, but it is not reported as done, so its records are retried (the guard makes a retry
 * of an applied write a duplicate).
 */
export async function writeAcknowledged<T>(
  redis: RedisClient,
  wait: ReplicaWait | undefined,
  write: (commander: Commander) => unknown,
): Promise<T> {
  if (!wait || wait.replicas === 0) return (await write(redis)) as T;
  const pipeline = redis.pipeline();
  write(pipeline);
  pipeline.wait(wait.replicas, wait.timeoutMs);
  const replies = await pipeline.exec();
  const [written, waited] = replies ?? [];
  if (!written || !waited)
    throw new RedisUnavailableError('the pipeline of a write and its WAIT was discarded');
  if (written[0]) {
    // ioredis follows a redirect of a pipeline only when nothing in it succeeded, and WAIT
    // answers on any node: learn the new slot owner here, for the retry.
    if (redis instanceof Cluster && /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b/.test(written[0].message))
      redis.refreshSlotsCache();
    throw written[0];
  }
  if (waited[0]) throw waited[0];
  const acknowledged = Number(waited[1]);
  if (acknowledged < wait.replicas) {
    throw new RedisNotReplicatedError(
      `${acknowledged} of ${wait.replicas} replicas acknowledged the write within ${wait.timeoutMs} ms: not reported as done, retried`,
    );
  }
  return written[1] as T;
}
