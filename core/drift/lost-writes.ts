/**
 * Where Redis holds less than Kafka says was handled, per partition: the ranges of offsets to
 * replay. Plain data in, plain data out.
 *
 * A partition's ledger (lua/advanceLedger-1.lua) records what the sink handled of it; Kafka's
 * committed offset what the trigger considers done. Redis is behind when:
 * - the ledger is gone while the group committed records the log still holds: the ledger's
 *   node lost everything (a restart without data, a restore of an older snapshot);
 * - its run begins after the log start: records before it were never handled here (the ledger
 *   was lost and begun again, or the trigger started at LATEST);
 * - the group committed past the run: records lost with a failover or restore of the ledger's
 *   node, or given up on by the trigger (retries exhausted, record too old);
 * - a shard, or the dead letters, holds a lower checkpoint than the ledger says was written to
 *   it: that node lost writes that the ledger's node kept.
 * Offsets below the log start can no longer be read: those records cannot be replayed, and are
 * counted as such.
 */
import { maxBigInt, minBigInt } from '../events/int64.ts';
import type { LedgerEntry } from '../sink/ports.ts';

export type BehindReason =
  | 'ledgerLost'
  | 'beforeLedger'
  | 'committedPastLedger'
  | 'shardBehind'
  | 'deadLettersBehind';

export interface BehindRange {
  /** First offset to replay. */
  from: bigint;
  /** Offset to stop before. */
  to: bigint;
  why: BehindReason;
  /** The shard, for shardBehind. */
  shard?: string;
}

export interface PartitionPositions {
  earliest: bigint;
  end: bigint;
  /** The trigger group's next offset; undefined before its first commit. */
  committed: bigint | undefined;
}

export interface BehindReport {
  /** Each reason Redis is behind, with its range: one offset may be behind for several. */
  ranges: BehindRange[];
  /** The offsets behind, each once: the ranges merged where they overlap or touch, in order. */
  merged: { from: bigint; to: bigint }[];
  /** Distinct offsets behind that the log still holds: what a replay can bring back. */
  records: number;
  /** Distinct offsets behind that are older than the log start: they cannot be brought back. */
  beyondRetention: number;
}

/** The ranges' union, as ordered ranges that neither overlap nor touch. */
export function mergeRanges(ranges: readonly { from: bigint; to: bigint }[]) {
  const sorted = ranges
    .filter((r) => r.to > r.from)
    .map((r) => ({ from: r.from, to: r.to }))
    .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  const merged: { from: bigint; to: bigint }[] = [];
  for (const range of sorted) {
    const last = merged.at(-1);
    if (last && range.from <= last.to) last.to = maxBigInt(last.to, range.to);
    else merged.push(range);
  }
  return merged;
}

export function behindRanges(
  positions: PartitionPositions,
  ledger: LedgerEntry | undefined,
  /** Each shard's own checkpoint for the partition (absent: none). */
  shardCheckpoints: ReadonlyMap<string, bigint>,
  deadLetterMark: bigint | undefined,
): BehindReport {
  const { earliest, committed } = positions;
  const ranges: BehindRange[] = [];
  if (!ledger || ledger.through === undefined) {
    if (committed !== undefined && committed > earliest)
      ranges.push({ from: earliest, to: committed, why: 'ledgerLost' });
  } else {
    if (ledger.start !== undefined && ledger.start > earliest)
      ranges.push({ from: earliest, to: ledger.start, why: 'beforeLedger' });
    if (committed !== undefined && committed > ledger.through + 1n)
      ranges.push({ from: ledger.through + 1n, to: committed, why: 'committedPastLedger' });
  }
  for (const [shard, written] of ledger?.shards ?? []) {
    const held = shardCheckpoints.get(shard);
    if (held === undefined || held < written)
      ranges.push({
        from: held === undefined ? 0n : held + 1n,
        to: written + 1n,
        why: 'shardBehind',
        shard,
      });
  }
  const lettered = ledger?.deadLettered;
  if (lettered !== undefined && (deadLetterMark === undefined || deadLetterMark < lettered))
    ranges.push({
      from: deadLetterMark === undefined ? 0n : deadLetterMark + 1n,
      to: lettered + 1n,
      why: 'deadLettersBehind',
    });

  // Counted over the union: a record missing for two reasons (the ledger lost, and a shard
  // behind) is one record to bring back, and on-call reads this number as the incident's size.
  const merged = mergeRanges(ranges);
  let records = 0;
  let beyondRetention = 0;
  for (const range of merged) {
    const readable = maxBigInt(range.from, earliest);
    if (range.to > readable) records += Number(range.to - readable);
    const lost = minBigInt(range.to, earliest) - range.from;
    if (lost > 0n) beyondRetention += Number(lost);
  }
  return { ranges, merged, records, beyondRetention };
}

/**
 * The one replay that covers every range, clipped to the log: replaying records Redis holds is
 * harmless (the guard finds duplicates), and one pass keeps the offsets of the partition in order.
 */
export function repairRange(
  report: BehindReport,
  positions: PartitionPositions,
): { from: bigint; to: bigint } | undefined {
  const first = report.merged[0];
  const last = report.merged.at(-1);
  if (!first || !last) return undefined;
  let from = first.from;
  let to = last.to;
  from = maxBigInt(from, positions.earliest);
  to = minBigInt(to, positions.end);
  return from < to ? { from, to } : undefined;
}
