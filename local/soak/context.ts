/**
 * What every phase of a soak run knows: its settings, the names it works under, the fault
 * schedule, its clock and its log, and the shard it watches.
 */
import { demoStateName } from '../scenario/traffic-model.ts';
import type { FaultCounts, ScheduledFault, Topology } from './schedule.ts';

export interface SoakSettings {
  seed: number;
  events: number;
  rate: number;
  partitions: number;
  players: number;
  malformedRate: number;
  duplicateRate: number;
  gapRate: number;
  checkIntervalMs: number;
}

export interface SoakRun {
  settings: SoakSettings;
  quick: boolean;
  topology: Topology;
  /** Faults of each kind the run makes. */
  counts: FaultCounts;
  /** Production's security shape (else plaintext). */
  secure: boolean;
  topic: string;
  /** The Redis key prefix, SEQGUARD_KEY_PREFIX. */
  prefix: string;
  /** The event source mapping's consumer group, which check-drift watches. */
  groupId: string;
  schedule: ScheduledFault[];
  /** When the run started (Date.now()). */
  started: number;
  /** ms since the start. */
  elapsed(): number;
  /** A line of the log, stamped with the time since the start. */
  say(line: string): void;
}

/** The shard the soak's events mutate, and its leaderboard (the others: traffic.ts, soakStates). */
export const SHARD = 'game';
export const BOARD = demoStateName;
/** The largest value the sink accepts: the traffic has malformed records above it. */
export const MAX_VALUE_BYTES = 16_384;

/** minutes:seconds, e.g. 2:05. */
export const clock = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** A count with thousands separators. */
export const n = (x: number) => x.toLocaleString('en-US');
