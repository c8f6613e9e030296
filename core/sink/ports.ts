/**
 * The sink core's ports (core/sink/apply-records.ts): every write and read the core
 * makes, named here, so that the core runs the same against Redis (redis-ports.ts), the local
 * emulator, or a test double. Each method is one call of the core; none of them writes anything
 * the contract does not name.
 */

import type { MSKRecord } from 'aws-lambda';
import type { GuardedEvent } from '../events/types.ts';
import type { GuardOutcome } from '../guard/model.ts';

export interface SinkPorts {
  /**
   * Applies one chunk of one shard's events, in order, in one atomic guard call
   * (lua/applyBatch-6.lua); one outcome per event. Refused whole when the shard holds less
   * than `expected` (RedisBehindError).
   */
  applyChunk(
    shard: string,
    events: readonly GuardedEvent[],
    expected?: ExpectedCheckpoints,
  ): Promise<GuardOutcome[]>;
  /**
   * Enters `shard` in the shard registry: the list of shards the sink wrote to, which lets the
   * drift check notice a shard whose keys vanished (core/redis/inspect.ts). The core
   * calls it after each chunk applied to the shard, before the chunk's outcomes count: an error
   * fails the chunk as one of applyChunk's would (the guard makes its retry a duplicate). A
   * second write, not atomic with the chunk: a crash in between leaves the shard unregistered
   * until its next chunk, which the drift check's SCAN for offset checkpoints covers meanwhile.
   * The adapter may skip a shard it registered before. Absent: no registry is kept.
   */
  registerShard?(shard: string): Promise<void>;
  /** Records that cannot be applied, each once in the dead-letter stream (lua/deadLetter-2.lua). */
  appendDeadLetters(
    letters: readonly DeadLetter[],
    expected?: ExpectedCheckpoints,
  ): Promise<DeadLetterOutcome[]>;
  /** The partition ledgers; without one, lost writes are not looked for. */
  ledger?: LedgerPort;
}

export interface LedgerPort {
  /** A partition's ledger; undefined for a partition never handled. */
  read(partition: string): Promise<LedgerEntry | undefined>;
  /** False when the range does not join the ledger's run. */
  advance(partition: string, advance: LedgerAdvance): Promise<boolean>;
  /**
   * Whether the log holds any record of the partition in [from, to): offsets without records
   * (transaction markers, compaction) are no hole. Absent when the sink cannot read Kafka; a
   * gap in offsets is then taken for a hole.
   */
  hasRecords?(
    partition: { topic: string; partition: number },
    from: bigint,
    to: bigint,
  ): Promise<boolean>;
}

/**
 * Per `<topic>-<partition>`, the lowest checkpoint the shard must hold before a chunk may be
 * applied: what the partition ledger recorded as written to it. Empty for a repair.
 */
export type ExpectedCheckpoints = Readonly<Record<string, string>>;

export interface DeadLetter {
  /** The record exactly as the event carried it (base64 key and value, header bytes). */
  record: MSKRecord;
  reason: string;
}

export type DeadLetterOutcome = { kind: 'appended' } | { kind: 'alreadyThere' };

export interface LedgerEntry {
  /** Every record at or below this offset was handled, in one run from `start`. */
  through: bigint | undefined;
  start: bigint | undefined;
  /** The highest offset of the partition written to each shard. */
  shards: Map<string, bigint>;
  /** The highest offset of the partition dead-lettered. */
  deadLettered: bigint | undefined;
}

export interface LedgerAdvance {
  /** The first offset of the range handled. */
  from: bigint;
  /** The last offset of its handled prefix; undefined when none of it was handled. */
  to: bigint | undefined;
  /** The highest offset written to each shard. */
  shards: ReadonlyMap<string, bigint>;
  deadLettered: bigint | undefined;
  /** The drift check's repair of a range Redis lacked (see `advanceLedger`). */
  repair?: boolean;
  /** The run the ledger held when the batch read it, for a live batch (see `advanceLedger`). */
  readRun?: { start: bigint; through: bigint };
}
