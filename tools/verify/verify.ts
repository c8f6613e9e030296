/**
 * verify: recomputes from the topic the state the sink must have written, and lists where Redis
 * differs. The guarantee says a checker that recomputes the state from the unique events must
 * agree with Redis exactly; this is that checker, for operators.
 *
 * - expectedState(): pure. Records in, expected state out, by the model of lua/applyBatch-6.lua's
 *   sequence guard and mutations (functions/shared/guard-model.ts).
 * - verifyState(): reads the state keys of the expected shards and compares.
 * - verifyFromTopic(): reads whole partitions from Kafka, then both of the above.
 * - formatVerifyReport(): the result as terminal lines.
 *
 * The model assumes Redis started empty and the sink saw every record from offset 0. Across
 * partitions it takes the order it is given (verifyFromTopic: partition after partition), while
 * the sink's order across partitions depends on its batches. That order changes the state only
 * when one (scope, seq) carries different events in two partitions, when two hsetIfNewer events
 * of one field share a version, or when ops of both Redis types meet on one state key; float
 * sums differ by rounding alone, which the comparison tolerates.
 */
import type { MSKRecord } from 'aws-lambda';
import type { SinkConfig } from '../../functions/shared/config.ts';
import { type DecodeOptions, decodeRecord } from '../../functions/shared/events/decode.ts';
import {
  emptyShardModel,
  guardEvent,
  type ModelScore,
  type ModelValue,
  type ShardModel,
} from '../../functions/shared/guard-model.ts';
import { type KafkaConnection, withAdmin } from '../../functions/shared/kafka/connection.ts';
import { toMskRecord } from '../../functions/shared/kafka/msk-event.ts';
import { partitionRanges } from '../../functions/shared/kafka/offsets.ts';
import { readRecords } from '../../functions/shared/kafka/read-records.ts';
import { topicPartition } from '../../functions/shared/kafka/topic-partition.ts';
import type { GuardOptions } from '../../functions/shared/redis/apply-batch.ts';
import type { RedisClient } from '../../functions/shared/redis/client.ts';
import { deadLetterCounts } from '../../functions/shared/redis/dead-letter.ts';
import { shardKeys, stateKey } from '../../functions/shared/redis/keys.ts';
import { metaStateNames, parseScore, scoreText } from '../../functions/shared/redis/layout.ts';

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
  const counts = { records: 0, events: 0, late: 0, duplicates: 0, invalid: 0, rejected: 0 };
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
    const outcome = guardEvent(shardModel(models, event.shard), event, firstSeq);
    if (outcome.kind === 'duplicate') {
      counts.duplicates += 1;
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

/** One place where Redis and the expected state disagree. */
export interface StateDifference {
  shard: string;
  /** The state key's name, as events name it. */
  key: string;
  /** The member or field; null when the whole key differs (it holds another Redis type). */
  target: string | null;
  /** missing: expected, not in Redis; extra: in Redis, not expected; type: the key's type. */
  kind: 'missing' | 'extra' | 'value' | 'type';
  /** As Redis would print it; null for none. For `type`, the Redis type names. */
  expected: string | null;
  actual: string | null;
}

/**
 * Rounding differs with the order of the additions, and the sink's order across partitions is
 * not the model's: 1e-9 of the sum of absolute deltas is far above that error (about n * 2^-53
 * of it), and far below any delta worth reporting.
 */
const relativeTolerance = 1e-9;

function scoresAgree(expected: ExpectedScore, actual: number): boolean {
  if (expected.score === actual) return true;
  if (expected.exact || !Number.isFinite(actual) || !Number.isFinite(expected.score)) return false;
  return Math.abs(actual - expected.score) <= relativeTolerance * expected.magnitude;
}

/** What a state key holds in Redis: target -> text, and its Redis type. */
async function readStateKey(
  redis: RedisClient,
  key: string,
): Promise<{ type: string; entries: Map<string, string> }> {
  const type = await redis.type(key);
  const entries = new Map<string, string>();
  if (type === 'zset') {
    const flat = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    for (let i = 0; i + 1 < flat.length; i += 2)
      entries.set(flat[i] as string, flat[i + 1] as string);
  } else if (type === 'hash') {
    for (const [field, value] of Object.entries(await redis.hgetall(key)))
      entries.set(field, value);
  }
  return { type, entries };
}

/**
 * State names the guard has applied events to in a shard: `n:<name>` in meta. These find keys
 * the model does not expect at all (written around the pipeline through the guard's own names).
 */
async function appliedNames(redis: RedisClient, shard: string, keyPrefix: string) {
  return metaStateNames(await redis.hkeys(shardKeys(shard, keyPrefix).meta), 'count');
}

function compareKey(
  shard: string,
  name: string,
  expected: ExpectedKey | undefined,
  actual: { type: string; entries: Map<string, string> },
): StateDifference[] {
  const differences: StateDifference[] = [];
  const add = (
    target: string | null,
    kind: StateDifference['kind'],
    want: string | null,
    have: string | null,
  ) => differences.push({ shard, key: name, target, kind, expected: want, actual: have });

  if (expected !== undefined && actual.type !== 'none' && actual.type !== expected.type) {
    add(null, 'type', expected.type, actual.type);
    return differences;
  }
  if (expected?.type === 'zset') {
    for (const [member, score] of expected.members) {
      const text = actual.entries.get(member);
      if (text === undefined) add(member, 'missing', scoreText(score.score), null);
      else if (!scoresAgree(score, parseScore(text)))
        add(member, 'value', scoreText(score.score), text);
    }
  } else if (expected?.type === 'hash') {
    for (const [field, value] of expected.fields) {
      const text = actual.entries.get(field);
      if (text === undefined) add(field, 'missing', String(value), null);
      else if (text !== String(value)) add(field, 'value', String(value), text);
    }
  }
  const known: ReadonlyMap<string, unknown> =
    expected === undefined
      ? new Map()
      : expected.type === 'zset'
        ? expected.members
        : expected.fields;
  for (const [target, text] of actual.entries) {
    if (!known.has(target)) add(target, 'extra', null, text);
  }
  return differences;
}

function byPlace(a: StateDifference, b: StateDifference): number {
  const order = (x: string | null, y: string | null) =>
    x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
  return order(a.shard, b.shard) || order(a.key, b.key) || order(a.target, b.target);
}

/**
 * Compares the state keys of every expected shard with Redis (also the keys of those shards
 * that the guard wrote but the model does not expect). Differences come sorted by place.
 */
export async function verifyState(
  redis: RedisClient,
  expected: Pick<ExpectedState, 'shards'>,
  options: { keyPrefix: string },
): Promise<StateDifference[]> {
  const perShard = await Promise.all(
    [...expected.shards].map(async ([shard, keys]) => {
      const names = new Set([
        ...keys.keys(),
        ...(await appliedNames(redis, shard, options.keyPrefix)),
      ]);
      const perKey = await Promise.all(
        [...names].map(async (name) =>
          compareKey(
            shard,
            name,
            keys.get(name),
            await readStateKey(redis, stateKey(shard, name, options.keyPrefix)),
          ),
        ),
      );
      return perKey.flat();
    }),
  );
  return perShard.flat().sort(byPlace);
}

/** The key name dead-letter differences carry: no state key can be named so (shard ''). */
export const deadLettersKey = 'dead letters';

/**
 * Every invalid or rejected record must be in the dead-letter stream exactly once, and nothing
 * else of these topics: missing, extra, and `value` for a record there more than once.
 */
export function compareDeadLetters(
  expected: readonly string[],
  actual: ReadonlyMap<string, number>,
): StateDifference[] {
  const differences: StateDifference[] = [];
  const difference = (target: string, kind: StateDifference['kind'], count: number) =>
    differences.push({
      shard: '',
      key: deadLettersKey,
      target,
      kind,
      expected: kind === 'extra' ? null : '1',
      actual: count === 0 ? null : String(count),
    });
  const wanted = new Set(expected);
  for (const position of wanted) {
    const count = actual.get(position) ?? 0;
    if (count === 0) difference(position, 'missing', 0);
    else if (count > 1) difference(position, 'value', count);
  }
  for (const [position, count] of actual)
    if (!wanted.has(position)) difference(position, 'extra', count);
  return differences.sort(byPlace);
}

export interface VerifyFromTopicOptions {
  connection: KafkaConnection;
  redis: RedisClient;
  topics: string[];
  /** The sink's configuration: how it decodes, where its keys are, where scopes start. */
  sink: Pick<SinkConfig, 'decode'> & { guard: Pick<GuardOptions, 'firstSeq' | 'keyPrefix'> };
  /** How long reading the topics may take in all (readRecords' deadline). */
  readTimeoutMs?: number;
}

export interface VerifyResult {
  /**
   * False when some partition no longer starts at offset 0: retention deleted records the state
   * holds, so the expected state cannot be recomputed and nothing was compared.
   */
  complete: boolean;
  /** The partitions that no longer start at offset 0, with their first offset. */
  firstOffsets: { topicPartition: string; earliest: bigint }[];
  partitions: number;
  records: number;
  /**
   * Offsets inside the partitions' ranges that held no record: compaction or transaction
   * markers. Compacted records would be missing from the expected state.
   */
  missingOffsets: number;
  events: number;
  late: number;
  duplicates: number;
  invalid: number;
  rejected: number;
  differences: StateDifference[];
}

/** Every record of the topics, from offset 0 to the end, against the state in Redis. */
export async function verifyFromTopic(options: VerifyFromTopicOptions): Promise<VerifyResult> {
  const { connection, redis, topics, sink } = options;
  const ranges = await withAdmin(connection, (admin) => partitionRanges(admin, topics));
  const firstOffsets = ranges
    .filter((r) => r.earliest > 0n)
    .map((r) => ({ topicPartition: topicPartition(r), earliest: r.earliest }));
  const counts = { events: 0, late: 0, duplicates: 0, invalid: 0, rejected: 0 };
  if (firstOffsets.length > 0) {
    return {
      complete: false,
      firstOffsets,
      partitions: ranges.length,
      records: 0,
      missingOffsets: 0,
      ...counts,
      differences: [],
    };
  }
  const consumed = await readRecords(
    connection,
    ranges.map((r) => ({ topic: r.topic, partition: r.partition, from: r.earliest, to: r.end })),
    options.readTimeoutMs === undefined ? {} : { timeoutMs: options.readTimeoutMs },
  );
  const expected = expectedState(consumed.map(toMskRecord), {
    decode: sink.decode,
    firstSeq: sink.guard.firstSeq,
  });
  const differences = [
    ...(await verifyState(redis, expected, { keyPrefix: sink.guard.keyPrefix })),
    ...compareDeadLetters(
      expected.deadLetters,
      await deadLetterCounts(redis, sink.guard.keyPrefix, topics),
    ),
  ];
  const span = ranges.reduce((sum, r) => sum + (r.end - r.earliest), 0n);
  return {
    complete: true,
    firstOffsets,
    partitions: ranges.length,
    records: expected.records,
    missingOffsets: Number(span) - expected.records,
    events: expected.events,
    late: expected.late,
    duplicates: expected.duplicates,
    invalid: expected.invalid,
    rejected: expected.rejected,
    differences,
  };
}

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
  const totals = `${count(result.records)} records in ${result.partitions} partitions: ${count(result.events)} events applied (${count(result.late)} late), ${count(result.duplicates)} duplicates, ${count(result.invalid)} invalid and ${count(result.rejected)} rejected (dead-lettered)`;
  lines.push(
    result.differences.length === 0
      ? `OK: Redis agrees with the topic; ${totals}`
      : `DRIFT: ${count(result.differences.length)} differences between Redis and the topic; ${totals}`,
  );
  return lines;
}
