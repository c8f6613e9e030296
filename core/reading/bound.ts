/**
 * Whether Redis has reached a read's bound (a position): plain data in, plain data out.
 *
 * Redis has reached the offset of a partition for a read of one shard when:
 * - the partition's ledger (lua/advanceLedger-1.lua) holds a run from at or below the offset
 *   through at or above it: every record of the partition up to the offset was handled, the
 *   event at the offset included, in one contiguous run. The checkpoint of a shard is not
 *   enough: it can run ahead of writes a node lost;
 * - the shard read holds, for the partition, at least what the ledger says was written to it,
 *   up to the offset: its own checkpoint (read in the same atomic step as the state) is at or
 *   above the lower of the offset and the ledger's mark for the shard. A node that lost writes
 *   holds less than its mark until the drift check has replayed them, and the guard refuses to
 *   write past such a hole, so a checkpoint that holds the mark vouches for the state beside it.
 * The ledger and the shard are read side by side (in a cluster they live on different nodes):
 * the sink raises a shard's checkpoint before the ledger's run and mark, and the ledger raises
 * its mark with its run in one script, so any pair of readings that passes vouches for the
 * state read.
 */
import type { PartitionBehind } from '../errors.ts';
import { minBigInt } from '../events/int64.ts';
import type { Position } from '../events/position.ts';
import { topicPartition } from '../events/topic-partition.ts';
import type { LedgerEntry } from '../sink/ports.ts';

/**
 * The partitions of `position` that Redis has not reached; empty when the read may be answered.
 * `checkpoints` are the shard's own checkpoints by `<topic>-<partition>` (absent: none), read
 * with the state; without a shard (a wait for the ledgers alone) pass undefined for both.
 */
export function behindBound(
  position: Position,
  ledgers: ReadonlyMap<string, LedgerEntry>,
  shard?: string,
  checkpoints?: ReadonlyMap<string, bigint>,
): PartitionBehind[] {
  const behind: PartitionBehind[] = [];
  for (const { topic, partition, offset } of position) {
    const tp = topicPartition({ topic, partition });
    const ledger = ledgers.get(tp);
    const at = { topic, partition, offset };
    if (ledger === undefined || ledger.through === undefined) {
      behind.push({ ...at, reached: undefined, behindBy: undefined, why: 'noLedger' });
    } else if (ledger.start !== undefined && ledger.start > offset) {
      behind.push({ ...at, reached: undefined, behindBy: undefined, why: 'beforeLedger' });
    } else if (ledger.through < offset) {
      const reached = ledger.through;
      behind.push({ ...at, reached, behindBy: offset - reached, why: 'notYetHandled' });
    } else if (shard !== undefined) {
      const mark = ledger.shards.get(shard);
      if (mark === undefined) continue;
      const needed = minBigInt(mark, offset);
      const held = checkpoints?.get(tp);
      if (held === undefined || held < needed) {
        behind.push({
          ...at,
          reached: held,
          behindBy: held === undefined ? undefined : offset - held,
          why: 'shardBehind',
        });
      }
    }
  }
  return behind;
}
