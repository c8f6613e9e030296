/**
 * One base error for seqguard; each area has a subclass that sets `name` and passes `{ cause }`.
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
