/**
 * The sink core's ports (functions/shared/sink/apply-records.ts): every write and read the core
 * makes, named here, so that the core runs the same against Redis (redis-ports.ts), the local
 * emulator, or a test double. Each method is one call of the core; none of them writes anything
 * the contract does not name.
 */
import type { GuardedEvent } from '../events/types.ts';
import type { ExpectedCheckpoints, GuardOutcome } from '../redis/apply-batch.ts';
import type { DeadLetter, DeadLetterOutcome } from '../redis/dead-letter.ts';
import type { LedgerAdvance, LedgerEntry } from '../redis/ledger.ts';

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
   * drift check notice a shard whose keys vanished (functions/shared/redis/inspect.ts). The core
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
