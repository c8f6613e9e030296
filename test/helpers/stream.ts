/** Reading a shard's delta stream in tests, through the layout's decoder. */
import type { Cluster, Redis } from 'ioredis';
import { decodeStreamEntry, type StreamEntry } from '../../core/layout/codecs.ts';

/** Every entry of a stream, oldest first, decoded (either format). */
export async function streamEntries(client: Redis | Cluster, key: string): Promise<StreamEntry[]> {
  return (await client.xrange(key, '-', '+')).map(([, fields]) => decodeStreamEntry(fields));
}
