/** The result of verify (verify.ts) for a terminal: a line per difference, notes, a summary. */
import { deadLettersKey, type StateDifference } from './compare.ts';
import type { VerifyResult } from './verify.ts';

/** Names as they are, unless blanks or control characters would make the line ambiguous. */
function shown(name: string): string {
  return name === '' || /[\s\p{Cc}"]/u.test(name) ? JSON.stringify(name) : name;
}

function describeDifference(d: StateDifference): string {
  if (d.shard === '' && d.key === deadLettersKey) {
    return `dead letter ${d.target}: expected ${d.expected === null ? 'none' : 'once'}, the dead-letter stream has it ${d.actual === null ? 'not at all' : `${d.actual} times`}`;
  }
  if (d.kind === 'type') {
    return `${shown(d.shard)} ${shown(d.key)}: expected a ${d.expected}, Redis has a ${d.actual}`;
  }
  return `${shown(d.shard)} ${shown(d.key)} ${shown(d.target ?? '')}: expected ${d.expected ?? 'none'}, Redis has ${d.actual ?? 'none'}`;
}

const count = (n: number) => n.toLocaleString('en-US');

/** The result for a terminal: a line per difference, notes, then one summary line. */
export function formatVerifyReport(result: VerifyResult): string {
  return reportLines(result).join('\n');
}

function reportLines(result: VerifyResult): string[] {
  if (!result.complete) {
    return [
      ...result.firstOffsets.map(
        (p) => `${p.topicPartition} starts at offset ${p.earliest}: older records were deleted`,
      ),
      `INCOMPLETE: ${result.firstOffsets.length} of ${result.partitions} partitions no longer start at offset 0, so the expected state cannot be recomputed from the topic; nothing was compared`,
    ];
  }
  const lines = result.differences.map(describeDifference);
  if (result.missingOffsets > 0) {
    lines.push(
      `note: ${count(result.missingOffsets)} offsets held no record (transaction markers, or compaction: compacted records are missing from the expected state)`,
    );
  }
  const totals = `${count(result.records)} records in ${result.partitions} partitions: ${count(result.events)} events applied (${count(result.late)} late), ${count(result.duplicates)} duplicates, ${count(result.refused)} refused, ${count(result.invalid)} invalid and ${count(result.rejected)} rejected (dead-lettered)`;
  lines.push(
    result.differences.length === 0
      ? `OK: Redis agrees with the topic; ${totals}`
      : `DRIFT: ${count(result.differences.length)} differences between Redis and the topic; ${totals}`,
  );
  return lines;
}
