/**
 * The expected state: records in, the state the sink must have written out, by the model of
 * lua/applyBatch-6.lua's sequence guard and mutations (core/guard/model.ts). Pure.
 *
 * The model assumes Redis started empty and the sink saw every record from offset 0. Across
 * partitions it takes the order it is given (verifyFromTopic: partition after partition), while
 * the sink's order across partitions depends on its batches. That order changes the state only
 * when one (scope, seq) carries different events in two partitions, when two hsetIfNewer events
 * of one field share a version, when ops of two Redis types meet on one state key, or when a
 * mutation that can refuse (debit, transfer) reads a counter that events of two partitions move
 * (the sink judged it against the balance it found, in its own order); float sums differ by
 * rounding alone, which the comparison (compare.ts) tolerates. Give a counter that is debited
 * one partition (key its events by the account) and verify agrees with the sink exactly.
 */
import type { MSKRecord } from 'aws-lambda';
import {
  type DecodeOptions,
  decodeRecord,
  emptyShardModel,
  guardEvent,
  type ModelScore,
  type ModelValue,
  type ShardModel,
  topicPartition,
} from '../../core/index.ts';

export interface ExpectedStateOptions {
  decode: DecodeOptions;
  /** SEQGUARD_FIRST_SEQ: the seq every scope starts at. */
  firstSeq: string;
}

/** A leaderboard member's expected score, with what bounds the float error of its sum. */
export type ExpectedScore = ModelScore;

/** A counter (hincrby) is a bigint; a field set by hsetIfNewer holds the string it set. */
export type ExpectedKey = ModelValue;

export interface ExpectedState {
  /** shard -> state key name -> expected contents. */
  shards: Map<string, Map<string, ExpectedKey>>;
  records: number;
  /** Events applied, late ones included. */
  events: number;
  late: number;
  /** Events the guard skips: their (scope, seq), or their offset, was applied before. */
  duplicates: number;
  /** Events their mutation refused (insufficient funds): in the stream, not in the state. */
  refused: number;
  /** Records that do not decode: in the dead-letter stream, not in the state. */
  invalid: number;
  /**
   * Valid events the guard refuses, dead-lettered too: a scope's first seq below firstSeq, a
   * state key of the other Redis type, a counter that would leave int64, a score delta that
   * Redis cannot parse.
   */
  rejected: number;
  /** Where the invalid and rejected records are: `<topic>-<partition>@<offset>`. */
  deadLetters: string[];
}

function shardModel(models: Map<string, ShardModel>, shard: string): ShardModel {
  let model = models.get(shard);
  if (model === undefined) {
    model = emptyShardModel();
    models.set(shard, model);
  }
  return model;
}

/**
 * The state the sink must have written after applying `records` once each, in the order given
 * (each partition in offset order), to an empty Redis.
 */
export function expectedState(
  records: Iterable<MSKRecord>,
  options: ExpectedStateOptions,
): ExpectedState {
  const firstSeq = BigInt(options.firstSeq);
  const models = new Map<string, ShardModel>();
  const counts = {
    records: 0,
    events: 0,
    late: 0,
    duplicates: 0,
    refused: 0,
    invalid: 0,
    rejected: 0,
  };
  const deadLetters: string[] = [];
  for (const record of records) {
    counts.records += 1;
    const decoded = decodeRecord(record, options.decode);
    if (decoded.kind === 'invalid') {
      counts.invalid += 1;
      deadLetters.push(`${topicPartition(record)}@${record.offset}`);
      continue;
    }
    const event = decoded.event;
    const outcome = guardEvent(
      shardModel(models, event.shard),
      event,
      firstSeq,
      options.decode.mutations,
    );
    if (outcome.kind === 'duplicate') {
      counts.duplicates += 1;
    } else if (outcome.kind === 'refused') {
      counts.refused += 1;
    } else if (outcome.kind === 'rejected') {
      counts.rejected += 1;
      deadLetters.push(`${topicPartition(record)}@${record.offset}`);
    } else {
      counts.events += 1;
      if (outcome.kind === 'appliedLate') counts.late += 1;
    }
  }
  const shards = new Map([...models].map(([shard, model]) => [shard, model.state]));
  return { shards, ...counts, deadLetters };
}
