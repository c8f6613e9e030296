/** Domain types shared by the sink, the guard wrapper and the tools built on them. */

/** Where a record sits in Kafka. Offsets and seqs are canonical decimal strings (int64-exact). */
export interface RecordCoordinates {
  topic: string;
  partition: number;
  offset: string;
  /** Record timestamp, ms since the epoch. */
  timestamp: number;
}

/**
 * The state change an event carries: a registered mutation (core/mutations) by name, the state
 * names it touches in its definition's key order, and its arguments as canonical text in its
 * definition's argument order. `MutationRegistry` reads one from an event's data; the guard's
 * script hands the same keys and arguments to the mutation's Lua.
 */
export interface Mutation {
  op: string;
  /** State names of the event's shard (each one the key `stateKey(shard, name)`). */
  keys: readonly string[];
  args: readonly string[];
}

/** A decoded, valid event, ready for the guard. */
export interface GuardedEvent {
  /** The state shard: every key the event touches shares its hash tag. */
  shard: string;
  /**
   * The sequence scope and its seq, or null for events without a sequence: those are guarded
   * by topic-partition and offset.
   */
  sequence: { scope: string; seq: string } | null;
  mutation: Mutation;
  record: RecordCoordinates;
}

/** A record that cannot be applied, with the reason it goes to the dead-letter stream. */
export interface InvalidRecord {
  record: RecordCoordinates;
  reason: string;
}
