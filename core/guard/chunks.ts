/** How one shard's events are cut into guard calls (lua/applyBatch-6.lua). */

/**
 * ElastiCache rejects a command with more than 3,999 arguments, and Redis serves nobody else
 * while a script runs. The events travel as one JSON argument, so a chunk needs 6 + (state keys)
 * + 5 arguments; the event count is what keeps each execution short.
 */
export const maxChunkEvents = 3_000;

/** Splits one shard's events, in order, into chunks of at most `size` events. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
