import type { MSKEvent } from 'aws-lambda';
import type { Cluster, Redis } from 'ioredis';
import { partitionLedgerKey } from '../../core/layout/keys.ts';

/**
 * The MSK event fixtures stand for partitions mid-stream (offsets 22, 40, 100, …): as in a
 * running pipeline, their ledgers say that every earlier offset was handled. Without that, a
 * sink that cannot read Kafka refuses a partition's first batch past offset 0 (it could be a
 * Redis that lost everything) until the drift check begins the run. A partition that already
 * has a ledger keeps it.
 */
export async function handledBefore(
  redis: Redis | Cluster,
  keyPrefix: string,
  event: Pick<MSKEvent, 'records'>,
): Promise<void> {
  for (const [partition, records] of Object.entries(event.records)) {
    const first = Math.min(...records.map((r) => r.offset));
    if (first === 0) continue;
    const key = partitionLedgerKey(partition, keyPrefix);
    await redis.hsetnx(key, 'start', '0');
    await redis.hsetnx(key, 'through', String(first - 1));
  }
}
