/**
 * The sink's core: one Lambda event of Kafka records in, the guard's outcomes and the partial
 * batch response out. Plain data and narrow ports (ports.ts), so it runs the same against Redis
 * (redis-ports.ts), the local emulator, or a test double.
 *
 * Per record: decode -> valid events grouped by state shard -> chunks through the guard, the
 * chunks of one shard in order, shards side by side; after each chunk, its shard is entered in
 * the shard registry (the port's named second write). Invalid records and events the guard
 * rejects go to the dead-letter stream and count as processed. A chunk that fails fails its
 * events and every later chunk of its shard; each partition is then reported from its first
 * failed record on, and only records below that point are dead-lettered (the rest come again).
 *
 * With a ledger port, every partition's ledger (lua/advanceLedger-1.lua) is read first and
 * advanced last. A batch that starts past what the ledger says was handled (Redis lost
 * acknowledged writes, or the trigger gave up on a range) is refused whole, and each shard and
 * the dead letters must hold at least what the ledger says was written to them: otherwise
 * their node lost writes, and going on would move cursors past records that must be applied
 * first. The drift check replays what is missing, as a repair (`repair` below), which skips
 * those checks and closes the ledger's hole.
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { RedisBehindError } from '../errors.ts';
import { type DecodeOptions, decodeRecord } from '../events/decode.ts';
import type { GuardedEvent } from '../events/types.ts';
import { chunk } from '../guard/chunks.ts';
import type { GuardOutcome } from '../guard/model.ts';
import { batchResponse, type KafkaBatchResponse, recordsByPartition } from './batch-response.ts';

import type {
  ExpectedCheckpoints,
  LedgerAdvance,
  LedgerEntry,
  LedgerPort,
  SinkPorts,
} from './ports.ts';

export interface ApplyRecordsOptions {
  decode: DecodeOptions;
  chunkSize: number;
  shardConcurrency: number;
  /**
   * A repair: per partition, the range of offsets [from, to) these records are all of (a replay
   * of what Redis lost). No ledger check; the ledger's run is extended over the range. `held`:
   * what Redis held of the partition when the repair was planned, which it must still hold.
   */
  repair?: ReadonlyMap<string, { from: bigint; to: bigint; held?: HeldCheckpoints }>;
}

/**
 * What the shards and the dead letters held of a partition when the drift check read them, and
 * planned a repair from it. A repair starts where Redis lacked records, and relies on Redis
 * holding what came before: a node that loses writes between the check's reads and the repair's
 * writes (a restart, a rollback, a failover) would take the repair's records over the loss, and
 * the marks they raise (a shard's checkpoint; the dead letters', under which a record counts as
 * already there) would hide what came before from the next check's replay. So the repair's
 * writes expect at least these, as a live batch's expect what its ledger says.
 */
export interface HeldCheckpoints {
  shards: ReadonlyMap<string, bigint>;
  deadLetters: bigint | undefined;
}

export interface BatchSummary {
  records: number;
  /** Every applied event, in order, late or gap-opening ones included. */
  applied: number;
  late: number;
  gapsOpened: number;
  duplicates: number;
  /**
   * Events their mutation refused for a business reason (insufficient funds): final, each in the
   * delta stream with its reason, none in the state. Not applied, not dead-lettered.
   */
  refused: number;
  /** Records now in the dead-letter stream (appended now, or found there from a redelivery). */
  deadLettered: number;
  /** Records named in the response, to be delivered again. */
  retried: number;
  /** Why records failed, once per failed call. */
  errors: Error[];
}

export interface BatchResult {
  response: KafkaBatchResponse;
  summary: BatchSummary;
}

type Fate =
  | { kind: 'pending' }
  | { kind: 'guarded'; outcome: GuardOutcome }
  | { kind: 'deadLetter'; reason: string }
  | { kind: 'failed' };

/**
 * The fates every record of a batch has at some point, one object each: a batch of thousands
 * of records allocates none of them per record.
 */
const pendingFate: Fate = { kind: 'pending' };
const failedFate: Fate = { kind: 'failed' };
const guardedFates = new WeakMap<GuardOutcome, Fate>();

function guardedFate(outcome: GuardOutcome): Fate {
  let fate = guardedFates.get(outcome);
  if (fate === undefined) {
    fate = { kind: 'guarded', outcome };
    guardedFates.set(outcome, fate);
  }
  return fate;
}

interface Item {
  partition: string;
  record: MSKRecord;
  event: GuardedEvent | null;
  fate: Fate;
}

async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function decodeAll(partitions: Map<string, MSKRecord[]>, options: DecodeOptions): Item[] {
  const items: Item[] = [];
  for (const [partition, records] of partitions) {
    for (const record of records) {
      const decoded = decodeRecord(record, options);
      items.push(
        decoded.kind === 'event'
          ? { partition, record, event: decoded.event, fate: pendingFate }
          : {
              partition,
              record,
              event: null,
              fate: { kind: 'deadLetter', reason: decoded.invalid.reason },
            },
      );
    }
  }
  return items;
}

/** What the ledgers say the target (a shard, the dead letters) holds for these items' partitions. */
function expectedOf(
  items: readonly Item[],
  ledgers: ReadonlyMap<string, LedgerEntry>,
  pick: (entry: LedgerEntry) => bigint | undefined,
): ExpectedCheckpoints {
  const expected: Record<string, string> = {};
  for (const { partition } of items) {
    if (partition in expected) continue;
    const entry = ledgers.get(partition);
    const lowest = entry && pick(entry);
    if (lowest !== undefined) expected[partition] = String(lowest);
  }
  return expected;
}

function groupByShard(items: Item[]): Map<string, Item[]> {
  const shards = new Map<string, Item[]>();
  for (const item of items) {
    if (item.event === null) continue;
    const list = shards.get(item.event.shard) ?? [];
    list.push(item);
    shards.set(item.event.shard, list);
  }
  return shards;
}

async function guardShard(
  shard: string,
  items: Item[],
  ports: SinkPorts,
  chunkSize: number,
  errors: Error[],
  ledgers: ReadonlyMap<string, LedgerEntry>,
) {
  // Refused partitions (a hole in their ledger) are failed already.
  const pending = items.filter((item) => item.fate.kind === 'pending');
  const chunks = chunk(pending, chunkSize);
  // Per partition, the highest offset this invocation's chunks left in the shard's checkpoint.
  // A later chunk must find it there: a node that lost it in between (a restart, a failover
  // under the running invocation) would otherwise take the later chunk over the hole, and the
  // checkpoint that chunk raises would hide the lost records from the drift check.
  const written = new Map<string, number>();
  for (const [index, part] of chunks.entries()) {
    try {
      const expected = { ...expectedOf(part, ledgers, (entry) => entry.shards.get(shard)) };
      for (const [partition, offset] of written) {
        const ledger = expected[partition];
        if (ledger === undefined || BigInt(ledger) < BigInt(offset))
          expected[partition] = String(offset);
      }
      const outcomes = await ports.applyChunk(
        shard,
        part.map((item) => item.event as GuardedEvent),
        expected,
      );
      await ports.registerShard?.(shard);
      part.forEach((item, i) => {
        const outcome = outcomes[i] as GuardOutcome;
        item.fate =
          outcome.kind === 'rejected'
            ? { kind: 'deadLetter', reason: `guard: ${outcome.message}` }
            : guardedFate(outcome);
        // The guard raises the checkpoint for every event it did not reject (lua/applyBatch-6.lua).
        const offset = item.record.offset;
        if (outcome.kind !== 'rejected' && offset > (written.get(item.partition) ?? -1))
          written.set(item.partition, offset);
      });
    } catch (error) {
      errors.push(error as Error);
      for (const later of chunks.slice(index).flat()) later.fate = failedFate;
      return;
    }
  }
}

function firstFailedOffsets(items: Item[]): Map<string, number> {
  const first = new Map<string, number>();
  for (const item of items) {
    if (item.fate.kind !== 'failed') continue;
    const current = first.get(item.partition);
    if (current === undefined || item.record.offset < current)
      first.set(item.partition, item.record.offset);
  }
  return first;
}

async function deadLetterBelowFailures(
  items: Item[],
  ports: SinkPorts,
  errors: Error[],
  ledgers: ReadonlyMap<string, LedgerEntry>,
) {
  const failedFrom = firstFailedOffsets(items);
  const letters: Item[] = [];
  for (const item of items) {
    if (item.fate.kind !== 'deadLetter') continue;
    const first = failedFrom.get(item.partition);
    if (first === undefined || item.record.offset < first) letters.push(item);
    // At or after a failure of its partition: it comes again, and is dead-lettered then.
    else item.fate = failedFate;
  }
  try {
    await ports.appendDeadLetters(
      letters.map((item) => ({
        record: item.record,
        reason: (item.fate as { reason: string }).reason,
      })),
      expectedOf(letters, ledgers, (entry) => entry.deadLettered),
    );
    return letters.length;
  } catch (error) {
    errors.push(error as Error);
    for (const item of letters) item.fate = failedFate;
    return 0;
  }
}

function summarize(
  items: Item[],
  deadLettered: number,
  retried: number,
  errors: Error[],
): BatchSummary {
  const summary: BatchSummary = {
    records: items.length,
    applied: 0,
    late: 0,
    gapsOpened: 0,
    duplicates: 0,
    refused: 0,
    deadLettered,
    retried,
    errors,
  };
  for (const { fate } of items) {
    if (fate.kind !== 'guarded') continue;
    const kind = fate.outcome.kind;
    if (kind === 'duplicate') summary.duplicates += 1;
    else if (kind === 'refused') summary.refused += 1;
    else summary.applied += 1;
    if (kind === 'appliedLate') summary.late += 1;
    if (kind === 'gapOpened') summary.gapsOpened += 1;
  }
  return summary;
}

/**
 * Per partition of a live batch, whether it may be applied: its first record must join the run
 * its ledger records, unless the offsets in between hold no record.
 */
async function refuseHoles(
  partitions: Map<string, MSKRecord[]>,
  items: Item[],
  ledger: LedgerPort,
  ledgers: ReadonlyMap<string, LedgerEntry>,
  errors: Error[],
): Promise<Map<string, bigint>> {
  const starts = new Map<string, bigint>();
  for (const [partition, records] of partitions) {
    const first = records[0] as MSKRecord;
    const batchStart = BigInt(first.offset);
    const through = ledgers.get(partition)?.through;
    starts.set(partition, batchStart);
    if (through !== undefined && batchStart <= through + 1n) continue;
    // No ledger: a partition never handled, unless Redis lost it all; the log tells which.
    // Without Kafka to ask, only a batch from offset 0 is surely the first: a later one waits
    // for the drift check, which replays what the log holds before it and begins the run.
    const holeFrom = through === undefined ? 0n : through + 1n;
    if (batchStart === holeFrom) continue;
    const hole = ledger.hasRecords ? await ledger.hasRecords(first, holeFrom, batchStart) : true;
    if (!hole) {
      starts.set(partition, holeFrom);
      continue;
    }
    errors.push(
      new RedisBehindError(
        `${partition}: Kafka committed offsets ${holeFrom}..${batchStart - 1n} that Redis does not hold (lost writes, or records the trigger gave up on); the partition waits for check-drift to replay them`,
      ),
    );
    for (const item of items) if (item.partition === partition) item.fate = failedFate;
  }
  return starts;
}

/** The run a live batch read, so that its advance can tell the ledger lost it meanwhile. */
function readRunOf(entry: LedgerEntry | undefined): Pick<LedgerAdvance, 'readRun'> {
  return entry?.start !== undefined && entry.through !== undefined
    ? { readRun: { start: entry.start, through: entry.through } }
    : {};
}

/** The ledger's record of what this call handled of each partition. */
function advances(
  partitions: Map<string, MSKRecord[]>,
  items: Item[],
  starts: ReadonlyMap<string, bigint>,
  repair: ApplyRecordsOptions['repair'],
  ledgers: ReadonlyMap<string, LedgerEntry>,
): Map<string, LedgerAdvance> {
  const failedFrom = firstFailedOffsets(items);
  const result = new Map<string, LedgerAdvance>();
  for (const [partition, records] of partitions) {
    const range = repair?.get(partition);
    const from = range?.from ?? starts.get(partition) ?? BigInt((records[0] as MSKRecord).offset);
    const failed = failedFrom.get(partition);
    const end = range ? range.to - 1n : BigInt((records.at(-1) as MSKRecord).offset);
    const to = failed === undefined ? end : BigInt(failed) - 1n;
    result.set(partition, {
      from,
      to: to >= from ? to : undefined,
      shards: new Map(),
      deadLettered: undefined,
      ...(range ? { repair: true } : {}),
      ...readRunOf(ledgers.get(partition)),
    });
  }
  // The highest offsets as the records' own numbers first, made bigints once per partition.
  const highest = new Map<string, { shards: Map<string, number>; deadLettered: number }>();
  for (const item of items) {
    const kind = item.fate.kind;
    if (kind !== 'guarded' && kind !== 'deadLetter') continue;
    let marks = highest.get(item.partition);
    if (marks === undefined) {
      marks = { shards: new Map(), deadLettered: -1 };
      highest.set(item.partition, marks);
    }
    const offset = item.record.offset;
    if (kind === 'guarded' && item.event) {
      const current = marks.shards.get(item.event.shard);
      if (current === undefined || offset > current) marks.shards.set(item.event.shard, offset);
    } else if (kind === 'deadLetter' && offset > marks.deadLettered) {
      marks.deadLettered = offset;
    }
  }
  for (const [partition, marks] of highest) {
    const advance = result.get(partition) as LedgerAdvance;
    const shards = advance.shards as Map<string, bigint>;
    for (const [shard, offset] of marks.shards) shards.set(shard, BigInt(offset));
    if (marks.deadLettered >= 0) advance.deadLettered = BigInt(marks.deadLettered);
  }
  return result;
}

export async function applyRecords(
  event: Pick<MSKEvent, 'records'>,
  ports: SinkPorts,
  options: ApplyRecordsOptions,
): Promise<BatchResult> {
  const partitions = recordsByPartition(event);
  const ledger = ports.ledger;
  const live = options.repair === undefined;
  // Each partition's ledger on its own: a ledger on an unavailable node fails its partition
  // only, since nothing of it can be applied safely without it. Asked before the records are
  // decoded, so that the round trip passes meanwhile.
  const reading =
    ledger && live
      ? Promise.allSettled([...partitions.keys()].map(async (p) => ledger.read(p)))
      : undefined;
  const items = decodeAll(partitions, options.decode);
  const errors: Error[] = [];

  const ledgers = new Map<string, LedgerEntry>();
  // A repair's expected checkpoints: what Redis held when it was planned (no run: no hole check).
  for (const [partition, { held }] of options.repair ?? []) {
    if (held)
      ledgers.set(partition, {
        through: undefined,
        start: undefined,
        shards: new Map(held.shards),
        deadLettered: held.deadLetters,
      });
  }
  let starts = new Map<string, bigint>();
  if (ledger && reading) {
    const readable = new Map<string, MSKRecord[]>();
    const read = await reading;
    [...partitions].forEach(([partition, records], i) => {
      const result = read[i] as PromiseSettledResult<LedgerEntry | undefined>;
      if (result.status === 'fulfilled') {
        if (result.value) ledgers.set(partition, result.value);
        readable.set(partition, records);
        return;
      }
      errors.push(result.reason as Error);
      for (const item of items) if (item.partition === partition) item.fate = failedFate;
    });
    try {
      starts = await refuseHoles(readable, items, ledger, ledgers, errors);
    } catch (error) {
      // Kafka could not say whether a hole holds records: nothing can be applied safely.
      errors.push(error as Error);
      for (const item of items) item.fate = failedFate;
    }
  }

  await forEachConcurrently(
    [...groupByShard(items)],
    options.shardConcurrency,
    ([shard, shardItems]) =>
      guardShard(shard, shardItems, ports, options.chunkSize, errors, ledgers),
  );
  const deadLettered = await deadLetterBelowFailures(items, ports, errors, ledgers);

  if (ledger && items.some((item) => item.fate.kind !== 'failed' || !live)) {
    const moves = [...advances(partitions, items, starts, options.repair, ledgers)].filter(
      ([, advance]) =>
        advance.to !== undefined || advance.shards.size > 0 || advance.deadLettered !== undefined,
    );
    // Each partition's ledger on its own, all at once: one round trip for the batch, not one
    // per partition.
    const moved = await Promise.allSettled(
      moves.map(async ([partition, advance]) => ledger.advance(partition, advance)),
    );
    moved.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      // Applied, but not recorded: delivered again, the records are duplicates and the
      // ledger moves then.
      const partition = (moves[i] as [string, LedgerAdvance])[0];
      errors.push(result.reason as Error);
      for (const item of items) if (item.partition === partition) item.fate = failedFate;
    });
  }

  const response = batchResponse(partitions, firstFailedOffsets(items));
  return {
    response,
    summary: summarize(items, deadLettered, response.batchItemFailures.length, errors),
  };
}
