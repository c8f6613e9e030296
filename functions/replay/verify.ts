/**
 * verify: recomputes from the topic the state the sink must have written, and lists where Redis
 * differs. The guarantee says a checker that recomputes the state from the unique events must
 * agree with Redis exactly; this is that checker, for operators.
 *
 * - expectedState(): pure. Records in, expected state out, by a model of lua/applyBatch-6.lua's
 *   sequence guard and mutations (same cursor fields, same gap rule, same rejections).
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
import type { SinkConfig } from '../shared/config.ts';
import { type DecodeOptions, decodeRecord } from '../shared/events/decode.ts';
import { INT64_MAX } from '../shared/events/int64.ts';
import type { GuardedEvent, Mutation } from '../shared/events/types.ts';
import { type KafkaConnection, topicPartition, withAdmin } from '../shared/kafka/connection.ts';
import { toMskRecord } from '../shared/kafka/msk-event.ts';
import { partitionRanges } from '../shared/kafka/offsets.ts';
import { readRecords } from '../shared/kafka/read-records.ts';
import type { GuardOptions } from '../shared/redis/apply-batch.ts';
import type { RedisClient } from '../shared/redis/client.ts';
import { deadLetterCounts } from '../shared/redis/dead-letter.ts';
import { cursorField, shardKeys, stateKey } from '../shared/redis/keys.ts';

export interface ExpectedStateOptions {
  decode: DecodeOptions;
  /** SEQGUARD_FIRST_SEQ: the seq every scope starts at. */
  firstSeq: string;
}

/** A leaderboard member's expected score, with what bounds the float error of its sum. */
export interface ExpectedScore {
  score: number;
  /** Sum of the absolute deltas: the scale of the rounding error a different order may give. */
  magnitude: number;
  /** Every delta was an integer and every partial sum safe: any order gives this exact score. */
  exact: boolean;
}

export type ExpectedKey =
  | { type: 'zset'; members: Map<string, ExpectedScore> }
  /** A counter (hincrby) is a bigint; a field set by hsetIfNewer holds the string it set. */
  | { type: 'hash'; fields: Map<string, bigint | string> };

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

/** A cursor field's guard state: what the Lua keeps in `cursors` and `gaps`. */
interface Cursor {
  value: bigint;
  /** Open ranges [first, last] of missing seqs, sorted and disjoint. */
  gaps: [bigint, bigint][];
}

interface ShardModel {
  cursors: Map<string, Cursor>;
  /** name -> field -> version that last set it (hsetIfNewer). */
  versions: Map<string, Map<string, bigint>>;
  state: Map<string, ExpectedKey>;
}

type Verdict =
  | { kind: 'duplicate' }
  | { kind: 'rejected' }
  | { kind: 'apply' }
  | { kind: 'applyLate'; gapIndex: number };

/** Index of the open gap holding seq, or -1. */
function gapHolding(gaps: [bigint, bigint][], seq: bigint): number {
  let low = 0;
  let high = gaps.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = gaps[middle] as [bigint, bigint];
    if (seq < first) high = middle - 1;
    else if (seq > last) low = middle + 1;
    else return middle;
  }
  return -1;
}

/** Step 1 of applyBatch-6.lua: the guard's verdict, before anything moves. */
function judge(cursor: Cursor | undefined, seq: bigint, byOffset: boolean, firstSeq: bigint) {
  if (byOffset) {
    return cursor !== undefined && seq <= cursor.value
      ? ({ kind: 'duplicate' } as const)
      : ({ kind: 'apply' } as const);
  }
  const expected = cursor === undefined ? firstSeq : cursor.value + 1n;
  if (seq >= expected) return { kind: 'apply' } as const;
  if (cursor === undefined) return { kind: 'rejected' } as const;
  const gapIndex = gapHolding(cursor.gaps, seq);
  return gapIndex < 0 ? ({ kind: 'duplicate' } as const) : { kind: 'applyLate' as const, gapIndex };
}

/** Step 3: only an event whose mutation Redis accepted moves the cursor or the gaps. */
function advance(
  cursors: Map<string, Cursor>,
  field: string,
  seq: bigint,
  verdict: Verdict,
  firstSeq: bigint,
  byOffset: boolean,
) {
  const cursor = cursors.get(field);
  if (verdict.kind === 'applyLate' && cursor !== undefined) {
    const [first, last] = cursor.gaps[verdict.gapIndex] as [bigint, bigint];
    const rest: [bigint, bigint][] = [];
    if (first < seq) rest.push([first, seq - 1n]);
    if (seq < last) rest.push([seq + 1n, last]);
    cursor.gaps.splice(verdict.gapIndex, 1, ...rest);
    return;
  }
  if (cursor === undefined) {
    const gaps: [bigint, bigint][] = !byOffset && seq > firstSeq ? [[firstSeq, seq - 1n]] : [];
    cursors.set(field, { value: seq, gaps });
    return;
  }
  if (!byOffset && seq > cursor.value + 1n) cursor.gaps.push([cursor.value + 1n, seq - 1n]);
  cursor.value = seq;
}

/** HINCRBY accepts a stored field only when it is the canonical text of an int64. */
const int64Text = /^(0|-?[1-9][0-9]{0,18})$/;
const INT64_MIN = -INT64_MAX - 1n;

/**
 * ZINCRBY parses the delta with strtod and refuses a result that underflowed to zero
 * (Redis util.c string2d, ERANGE), while JavaScript quietly reads "1e-400" as 0.
 */
function underflowsToZero(text: string, delta: number): boolean {
  return delta === 0 && /[1-9]/.test(text.split(/[eE]/)[0] ?? '');
}

/** Step 2: the mutation as Redis would run it; false when Redis would refuse it. */
function mutate(shard: ShardModel, mutation: Mutation): boolean {
  const existing = shard.state.get(mutation.key);
  if (mutation.op === 'zincrby') {
    if (existing !== undefined && existing.type !== 'zset') return false;
    const delta = Number(mutation.value);
    if (underflowsToZero(mutation.value, delta)) return false;
    const members = existing?.members ?? new Map<string, ExpectedScore>();
    const before = members.get(mutation.target) ?? { score: 0, magnitude: 0, exact: true };
    const score = before.score + delta;
    if (Number.isNaN(score)) return false;
    const magnitude = before.magnitude + Math.abs(delta);
    const exact = before.exact && Number.isInteger(delta) && magnitude <= Number.MAX_SAFE_INTEGER;
    members.set(mutation.target, { score, magnitude, exact });
    if (existing === undefined) shard.state.set(mutation.key, { type: 'zset', members });
    return true;
  }
  if (existing !== undefined && existing.type !== 'hash') {
    // hsetIfNewer looks at the version before it touches the key: a stale one is a no-op.
    return mutation.op === 'hsetIfNewer' && !isNewer(shard, mutation);
  }
  const fields = existing?.fields ?? new Map<string, bigint | string>();
  if (mutation.op === 'hincrby') {
    const current = fields.get(mutation.target) ?? 0n;
    if (typeof current === 'string' && !int64Text.test(current)) return false;
    const sum = BigInt(current) + BigInt(mutation.value);
    if (sum < INT64_MIN || sum > INT64_MAX) return false;
    fields.set(mutation.target, sum);
  } else {
    if (!isNewer(shard, mutation)) return true;
    fields.set(mutation.target, mutation.value);
    const versions = shard.versions.get(mutation.key) ?? new Map<string, bigint>();
    versions.set(mutation.target, BigInt(mutation.version));
    shard.versions.set(mutation.key, versions);
  }
  if (existing === undefined) shard.state.set(mutation.key, { type: 'hash', fields });
  return true;
}

function isNewer(shard: ShardModel, mutation: Extract<Mutation, { op: 'hsetIfNewer' }>): boolean {
  const current = shard.versions.get(mutation.key)?.get(mutation.target);
  return current === undefined || BigInt(mutation.version) > current;
}

function shardModel(models: Map<string, ShardModel>, shard: string): ShardModel {
  let model = models.get(shard);
  if (model === undefined) {
    model = { cursors: new Map(), versions: new Map(), state: new Map() };
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
    const event: GuardedEvent = decoded.event;
    const model = shardModel(models, event.shard);
    const field = cursorField(event.sequence, event.record);
    const byOffset = event.sequence === null;
    const seq = BigInt(event.sequence?.seq ?? event.record.offset);
    const verdict = judge(model.cursors.get(field), seq, byOffset, firstSeq);
    if (verdict.kind === 'duplicate') {
      counts.duplicates += 1;
    } else if (verdict.kind === 'rejected' || !mutate(model, event.mutation)) {
      counts.rejected += 1;
      deadLetters.push(`${topicPartition(record)}@${record.offset}`);
    } else {
      advance(model.cursors, field, seq, verdict, firstSeq, byOffset);
      counts.events += 1;
      if (verdict.kind === 'applyLate') counts.late += 1;
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

/** Scores as Redis prints them. */
function scoreText(score: number): string {
  if (Number.isFinite(score)) return String(score);
  return score > 0 ? 'inf' : '-inf';
}

function parseScore(text: string): number {
  if (text === 'inf' || text === '+inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
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
  const fields = await redis.hkeys(shardKeys(shard, keyPrefix).meta);
  return fields.filter((f) => f.startsWith('n:')).map((f) => f.slice(2));
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
