/**
 * The data layout inside the keys keys.ts builds: how the guard encodes what it stores, with a
 * codec for each, so no reader or writer spells a field or a format by hand. The Lua side writes
 * the same formats in one include, lua/includes/layout.lua.
 *
 * - the stream entry of an applied event (format 2, one field; format 1, ten to twelve fields,
 *   is still read);
 * - the meta hash fields: `applied`, `n:<name>` (events applied to a state) and `sum:<name>`
 *   (the sum of their deltas);
 * - the versions hash fields of hsetIfNewer;
 * - the gap ledger members;
 * - scores as text (the one spelling of infinity);
 * - the dead-letter stream's entries (written by lua/deadLetter-2.lua).
 */
import type { Mutation, MutationOp } from '../events/types.ts';

// ----------------------------------------------------------------------------------------------
// Stream entries

/** One applied event, as its stream entry holds it. */
export interface StreamEntry {
  /** The cursor field that guarded the event: `s:<scope>`, or `o:<topic>-<partition>`. */
  scope: string;
  /** Its seq; the offset for an event guarded by offset. */
  seq: string;
  /** `<topic>-<partition>` of its record. */
  tp: string;
  offset: string;
  op: MutationOp;
  /** The state name (stateKey's name). */
  key: string;
  /** The member (zincrby) or field (hincrby, hsetIfNewer). */
  target: string;
  /** The delta, or the value set (hsetIfNewer). */
  value: string;
  /** The record's timestamp, ms since the epoch, as decimal text. */
  ts: string;
  /** hsetIfNewer only: the version it carried (undefined for the other ops). */
  version?: string | undefined;
  /** Applied late, into an open gap (its cursor did not move). */
  late: boolean;
}

/**
 * The field name of a format-2 entry. The name is the format: an entry of another format has
 * other field names (format 1 starts with `scope`), so every reader can tell them apart.
 */
export const streamEntryField = 'v2';

/**
 * The value of a format-2 entry: a header of ASCII fields separated by `,`, a `:`, then the
 * free-form texts one after the other:
 *
 *   <scope bytes>,<key bytes>,<target bytes>,<seq>,<tp>,<offset>,<ts>,<op>,<version>,<late>:
 *   <scope><key><target><value>
 *
 * The lengths are in UTF-8 bytes (Lua's `#`); the value takes the rest. `version` is empty
 * unless op is hsetIfNewer, `late` is `1` or empty. `tp` needs no length: Kafka topic names hold
 * only `[a-zA-Z0-9._-]`. One field instead of ten makes a reader parse three reply strings per
 * entry instead of twenty-one (replay reads 10,000 of them at once).
 */
export function encodeStreamEntry(entry: StreamEntry): [typeof streamEntryField, string] {
  const header = [
    Buffer.byteLength(entry.scope),
    Buffer.byteLength(entry.key),
    Buffer.byteLength(entry.target),
    entry.seq,
    entry.tp,
    entry.offset,
    entry.ts,
    entry.op,
    entry.version ?? '',
    entry.late ? '1' : '',
  ].join(',');
  return [streamEntryField, `${header}:${entry.scope}${entry.key}${entry.target}${entry.value}`];
}

const ops: ReadonlySet<string> = new Set<MutationOp>(['zincrby', 'hincrby', 'hsetIfNewer']);
/** A character beyond ASCII, which takes more than one UTF-8 byte. */
const nonAscii = /[\u0080-\uffff]/;

function notAnEntry(fields: readonly string[], why: string): TypeError {
  const shown = JSON.stringify(fields.slice(0, 4)).slice(0, 200);
  return new TypeError(`not a seqguard stream entry (${why}): ${shown}`);
}

function opOf(text: string | undefined, fields: readonly string[]): MutationOp {
  if (text === undefined || !ops.has(text)) throw notAnEntry(fields, `unknown op "${text}"`);
  return text as MutationOp;
}

/** The digits of text[from, to) as a number, or -1 when they are not a length. */
function lengthAt(text: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * Format 2, parsed by hand: this runs once per entry of a replay or a rebuild (10,000 to
 * millions of times), where split() and a regular expression per field cost more than the rest.
 */
function decodeFormat2(text: string, fields: readonly string[]): StreamEntry {
  // The ten header fields end at commas c[0..8] and the colon.
  const c0 = text.indexOf(',');
  const c1 = text.indexOf(',', c0 + 1);
  const c2 = text.indexOf(',', c1 + 1);
  const c3 = text.indexOf(',', c2 + 1);
  const c4 = text.indexOf(',', c3 + 1);
  const c5 = text.indexOf(',', c4 + 1);
  const c6 = text.indexOf(',', c5 + 1);
  const c7 = text.indexOf(',', c6 + 1);
  const c8 = text.indexOf(',', c7 + 1);
  const colon = text.indexOf(':', c8 + 1);
  if (c0 < 0 || c1 < 0 || c2 < 0 || c3 < 0 || c4 < 0 || c5 < 0 || c6 < 0 || c7 < 0 || c8 < 0) {
    throw notAnEntry(fields, 'its header does not have 10 fields');
  }
  const scopeBytes = lengthAt(text, 0, c0);
  const keyBytes = lengthAt(text, c0 + 1, c1);
  const targetBytes = lengthAt(text, c1 + 1, c2);
  const start = colon + 1;
  const keyStart = start + scopeBytes;
  const targetStart = keyStart + keyBytes;
  const valueStart = targetStart + targetBytes;
  // ASCII: byte lengths are string lengths; otherwise the texts are cut from the UTF-8 bytes.
  const bytes = nonAscii.test(text) ? Buffer.from(text, 'utf8') : undefined;
  if (
    // The last header field, late, is empty or "1".
    !(colon === c8 + 1 || (colon === c8 + 2 && text.charCodeAt(c8 + 1) === 49)) ||
    scopeBytes < 0 ||
    keyBytes < 0 ||
    targetBytes < 0 ||
    valueStart > (bytes === undefined ? text.length : bytes.length)
  ) {
    throw notAnEntry(fields, 'its header does not fit it');
  }
  const op = text.slice(c6 + 1, c7);
  if (op !== 'zincrby' && op !== 'hincrby' && op !== 'hsetIfNewer') {
    throw notAnEntry(fields, `unknown op "${op}"`);
  }
  return {
    scope: bytes ? bytes.toString('utf8', start, keyStart) : text.slice(start, keyStart),
    seq: text.slice(c2 + 1, c3),
    tp: text.slice(c3 + 1, c4),
    offset: text.slice(c4 + 1, c5),
    op,
    key: bytes ? bytes.toString('utf8', keyStart, targetStart) : text.slice(keyStart, targetStart),
    target: bytes
      ? bytes.toString('utf8', targetStart, valueStart)
      : text.slice(targetStart, valueStart),
    value: bytes ? bytes.toString('utf8', valueStart) : text.slice(valueStart),
    ts: text.slice(c5 + 1, c6),
    version: c8 === c7 + 1 ? undefined : text.slice(c7 + 1, c8),
    late: colon === c8 + 2,
  };
}

/** Format 1: `scope seq tp offset op key target value ts [version v] [late 1]`, field by field. */
function decodeFormat1(fields: readonly string[]): StreamEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
  const { scope, seq, tp, offset, key, target, value, ts, version } = f;
  if (
    scope === undefined ||
    seq === undefined ||
    tp === undefined ||
    offset === undefined ||
    key === undefined ||
    target === undefined ||
    value === undefined ||
    ts === undefined
  ) {
    throw notAnEntry(fields, 'a field is missing');
  }
  return {
    scope,
    seq,
    tp,
    offset,
    op: opOf(f.op, fields),
    key,
    target,
    value,
    ts,
    version,
    late: f.late === '1',
  };
}

/**
 * The entry that the field-value pairs of a stream entry (as XRANGE returns them) hold, in either
 * format. Throws a TypeError when they are not a seqguard entry.
 */
export function decodeStreamEntry(fields: readonly string[]): StreamEntry {
  if (fields.length === 2 && fields[0] === streamEntryField) {
    return decodeFormat2(fields[1] as string, fields);
  }
  if (fields[0] === 'scope') return decodeFormat1(fields);
  throw notAnEntry(fields, 'unknown format');
}

/** The mutation a stream entry records. Throws a TypeError for an hsetIfNewer without a version. */
export function entryMutation(entry: StreamEntry): Mutation {
  const { op, key, target, value } = entry;
  if (op !== 'hsetIfNewer') return { op, key, target, value };
  if (entry.version === undefined) {
    throw new TypeError(`a stream entry of ${op} has no version (key "${key}")`);
  }
  return { op, key, target, value, version: entry.version };
}

// ----------------------------------------------------------------------------------------------
// Dead-letter stream entries

/** A record that could not be applied, as the dead-letter stream holds it. */
export interface DeadLetterEntry {
  /** `<topic>-<partition>` (topicPartition()). */
  tp: string;
  /** The record's offset, a canonical decimal string. */
  offset: string;
  reason: string;
  /** Key and value as the Lambda event carried them: base64, "" when absent. */
  key: string;
  value: string;
  /** The record's headers as JSON, as the event carried them. */
  headers: string;
  /** The record's timestamp in ms, as text. */
  ts: string;
}

const deadLetterFields = ['tp', 'offset', 'reason', 'key', 'value', 'headers', 'ts'] as const;

/**
 * The dead letter that the field-value pairs of a dead-letter stream entry (as XRANGE returns
 * them) hold. Throws a TypeError when a field is missing.
 */
export function decodeDeadLetterEntry(fields: readonly string[]): DeadLetterEntry {
  const entry: Partial<Record<(typeof deadLetterFields)[number], string>> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i] as (typeof deadLetterFields)[number];
    if (deadLetterFields.includes(name)) entry[name] = fields[i + 1] as string;
  }
  for (const name of deadLetterFields) {
    if (entry[name] === undefined) {
      throw new TypeError(`not a dead-letter entry (no field "${name}"): ${fields.join(' ')}`);
    }
  }
  return entry as DeadLetterEntry;
}

// ----------------------------------------------------------------------------------------------
// Meta hash: running totals

/** The fields of a shard's meta hash (lua/includes/layout.lua: metaCountField, metaSumField). */
export const metaField = {
  /** Events applied to the shard, all states together. */
  applied: 'applied',
  /** Events applied to state `name`. */
  count: (name: string) => `n:${name}`,
  /** The sum of the deltas applied to state `name` (a double, as HINCRBYFLOAT keeps it). */
  sum: (name: string) => `sum:${name}`,
} as const;

export type MetaField =
  | { kind: 'applied' }
  | { kind: 'count'; name: string }
  | { kind: 'sum'; name: string };

/** What a meta hash field is, or undefined for a field the guard does not write. */
export function parseMetaField(field: string): MetaField | undefined {
  if (field === metaField.applied) return { kind: 'applied' };
  if (field.startsWith('n:')) return { kind: 'count', name: field.slice(2) };
  if (field.startsWith('sum:')) return { kind: 'sum', name: field.slice(4) };
  return undefined;
}

/** The state names that a meta hash keeps totals of (an `n:` or a `sum:` field). */
export function metaStateNames(fields: Iterable<string>, kind: 'count' | 'sum'): string[] {
  const names: string[] = [];
  for (const field of fields) {
    const parsed = parseMetaField(field);
    if (parsed?.kind === kind) names.push(parsed.name);
  }
  return names;
}

// ----------------------------------------------------------------------------------------------
// Versions hash (hsetIfNewer)

/**
 * The versions hash field of (state name, target): the 4-digit byte length of the name, the
 * name, then the target, so that no two pairs share a field. The guard's versions hash and a
 * rebuild's fresh versions hash both use it (lua/includes/layout.lua: versionField).
 */
export function versionField(name: string, target: string): string {
  return `${String(Buffer.byteLength(name)).padStart(4, '0')}${name}${target}`;
}

// ----------------------------------------------------------------------------------------------
// Gap ledger

/** An open range of missing seqs of one cursor field, as the gap ledger stores it. */
export interface GapRange {
  /** The cursor field: `s:<scope>` (only sequence fields have gaps). */
  field: string;
  first: bigint;
  last: bigint;
}

const SEQ_WIDTH = 20;

/**
 * A gap ledger member: the 4-digit byte length of the cursor field, the field, then first and
 * last, each zero-padded to 20 digits, so that byte order is numeric order within a field
 * (lua/includes/layout.lua: gapPrefix, gapMember).
 */
export function encodeGapMember(gap: GapRange): string {
  const pad = (n: bigint) => n.toString().padStart(SEQ_WIDTH, '0');
  return `${String(Buffer.byteLength(gap.field)).padStart(4, '0')}${gap.field}${pad(gap.first)}${pad(gap.last)}`;
}

export function decodeGapMember(member: Buffer | string): GapRange {
  const bytes = typeof member === 'string' ? Buffer.from(member, 'utf8') : member;
  const fieldLength = Number(bytes.subarray(0, 4).toString('latin1'));
  const seqs = bytes.subarray(4 + fieldLength);
  if (!Number.isInteger(fieldLength) || seqs.length !== 2 * SEQ_WIDTH)
    throw new TypeError(`not a gap ledger member: ${JSON.stringify(bytes.toString('latin1'))}`);
  return {
    field: bytes.subarray(4, 4 + fieldLength).toString('utf8'),
    first: BigInt(seqs.subarray(0, SEQ_WIDTH).toString('latin1')),
    last: BigInt(seqs.subarray(SEQ_WIDTH).toString('latin1')),
  };
}

// ----------------------------------------------------------------------------------------------
// Scores

/**
 * A sorted-set score as Redis prints it (`inf`, `-inf`), and as ZADD reads it back: the shortest
 * text of the same double (ZADD parses it with strtod).
 */
export function scoreText(score: number): string {
  if (Number.isFinite(score)) return String(score);
  return score > 0 ? 'inf' : '-inf';
}

/** A score as Redis prints it (ZSCORE, ZRANGE WITHSCORES), as a number. */
export function parseScore(text: string): number {
  if (text === 'inf' || text === '+inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}
