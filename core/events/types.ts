/** Domain types shared by the sink, the guard wrapper and the tools built on them. */

/** Where a record sits in Kafka. Offsets and seqs are canonical decimal strings (int64-exact). */
export interface RecordCoordinates {
  topic: string;
  partition: number;
  offset: string;
  /** Record timestamp, ms since the epoch. */
  timestamp: number;
}

/** The state mutations an event may carry; the Lua guard knows exactly these. */
export type Mutation =
  | { op: 'zincrby'; key: string; target: string; value: string }
  | { op: 'hincrby'; key: string; target: string; value: string }
  | { op: 'hsetIfNewer'; key: string; target: string; value: string; version: string };

export type MutationOp = Mutation['op'];

export const mutationOps = ['zincrby', 'hincrby', 'hsetIfNewer'] as const satisfies MutationOp[];

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
