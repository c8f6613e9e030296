/**
 * The errors of seqguard's library code (functions/, and the operator tools in tools/): one base
 * class, a subclass per kind of failure that sets `name` and passes `{ cause }` (Powertools'
 * idempotency/src/errors.ts). The local runtime has its own base class (local/emulators/errors.ts).
 * Programming errors (an argument no caller may pass) stay TypeError or RangeError.
 */
export class SeqguardError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SeqguardError';
  }
}

/** The environment does not describe a usable configuration. Thrown once, at cold start. */
export class ConfigError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/**
 * A bookkeeping key of a shard holds an unexpected type: something wrote around the pipeline.
 * Nothing of the chunk was applied.
 */
export class RedisLayoutError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedisLayoutError';
  }
}

/**
 * A shard or partition ledger whose version stamp names a key layout or stream format newer than
 * this code reads (core/layout/versions.ts): a newer seqguard wrote it, during a rolling deploy or
 * before a rollback. Nothing was written; the records are retried, never dead-lettered.
 */
export class RedisNewerLayoutError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedisNewerLayoutError';
  }
}

/** Redis could not run a command (connection, timeout, failover): the records are retried. */
export class RedisUnavailableError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/**
 * Redis holds less than what was handled before: a node lost acknowledged writes (a restart
 * without its data, a failover, a restore from a snapshot), or the trigger gave up on a range.
 * Records of the partition are refused until the drift check has replayed what is missing,
 * because going on would move cursors past records that must be applied first.
 */
export class RedisBehindError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedisBehindError';
  }
}

/**
 * Fewer replicas than asked for acknowledged a write within the wait timeout
 * (SEQGUARD_REDIS_WAIT_REPLICAS): the write is on the primary but could be lost with a failover,
 * so it is not reported as done and the records are retried (the guard makes that safe).
 */
export class RedisNotReplicatedError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedisNotReplicatedError';
  }
}

// Redis credentials

/** The secret could not be read, or does not hold Redis credentials. */
export class RedisAuthSecretError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedisAuthSecretError';
  }
}

// Kafka

/** An IAM token for MSK could not be made (no credentials, or the signer failed). */
export class MskIamTokenError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MskIamTokenError';
  }
}

/**
 * Kafka could not be read as asked: a topic that does not exist, or records that did not arrive
 * within the read's deadline.
 */
export class KafkaReadError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KafkaReadError';
  }
}

/** A replay request (from an invocation event or the CLI) that names no range to replay. */
export class ReplayRequestError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReplayRequestError';
  }
}

// The producer

/** The options do not describe a producer with the guarantees this module promises. */
export class ProducerOptionsError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProducerOptionsError';
  }
}

/** Kafka did not confirm where it wrote the events. */
export class PublishError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PublishError';
  }
}

/** The next seq would not fit in an int64. */
export class SequenceOverflowError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SequenceOverflowError';
  }
}

/** The counter store failed (unreachable, or the key holds something else): no seq was handed out. */
export class SequenceUnavailableError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SequenceUnavailableError';
  }
}

/**
 * A mutation definition that cannot be registered (core/mutations): two of one name, a Lua body
 * without its contract header, no model, a schema that does not match the Lua's arguments, a key
 * outside the shard. The message names the mutation and what is wrong.
 */
export class MutationDefinitionError extends SeqguardError {
  constructor(mutation: string, problem: string, options?: ErrorOptions) {
    super(`mutation "${mutation}": ${problem}`, options);
    this.name = 'MutationDefinitionError';
  }
}

// Reading (docs/reading.md)

/**
 * A position token that is not one seqguard made (another text, cut or altered), or a position
 * naming a topic, partition or offset Kafka cannot have, or a topic the reader does not serve.
 */
export class PositionError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PositionError';
  }
}

/** Why a partition is behind a read's bound (core/reading/bound.ts). */
export type BehindBoundReason =
  /** The partition's ledger has not reached the offset yet: the sink is still on its way. */
  | 'notYetHandled'
  /** No ledger: nothing handled yet, or its node lost it (a restart without data). */
  | 'noLedger'
  /** The ledger's run begins after the offset: what came before was not handled here. */
  | 'beforeLedger'
  /** The shard's node holds less than the ledger says was written to it: it lost writes. */
  | 'shardBehind';

/** One partition a read's bound names that Redis has not reached. */
export interface PartitionBehind {
  topic: string;
  partition: number;
  /** The bound's offset. */
  offset: bigint;
  /** The last offset Redis can vouch for (undefined: none). */
  reached: bigint | undefined;
  /** Offsets between what Redis vouches for and the bound; undefined when it vouches for none. */
  behindBy: bigint | undefined;
  why: BehindBoundReason;
}

/**
 * A read with a bound (a position or its token) that Redis has not reached: the partitions
 * behind, each with what Redis vouches for and why. Nothing was answered; a read of state that a
 * node lost is refused here rather than answered from the rolled-back state.
 */
export class NotUpToBoundError extends SeqguardError {
  readonly behind: readonly PartitionBehind[];
  constructor(behind: readonly PartitionBehind[], options?: ErrorOptions) {
    const parts = behind.map(
      (b) =>
        `${b.topic}-${b.partition} at ${b.offset}: ${b.why}` +
        (b.behindBy === undefined ? '' : `, ${b.behindBy} behind (reached ${b.reached})`),
    );
    super(`Redis is not up to the read's bound: ${parts.join('; ')}`, options);
    this.name = 'NotUpToBoundError';
    this.behind = behind;
  }
}
