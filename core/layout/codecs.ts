/**
 * The data layout inside the keys keys.ts builds: how the guard encodes what it stores, with a
 * codec for each, so no reader or writer spells a field or a format by hand. The Lua side writes
 * the same formats in one include, lua/includes/layout.lua.
 *
 * - the stream entry of an applied or refused event (format 3, one field "v3"; formats 2 and 1,
 *   written before, are still read);
 * - the meta hash fields: `applied`, `n:<name>` (events applied to a state), `sum:<name>`
 *   (the sum of their deltas), and the version stamp `layout`, `streamFormat` (versions.ts);
 * - the versions hash fields of hsetIfNewer;
 * - the gap ledger members;
 * - scores as text (the one spelling of infinity);
 * - the dead-letter stream's entries (written by lua/deadLetter-2.lua).
 */
import type { Mutation } from '../events/types.ts';
import { stampField } from './versions.ts';

// ----------------------------------------------------------------------------------------------
// Stream entries

/** One event the guard applied or refused, as its stream entry holds it. */
export interface StreamEntry {
  /** The cursor field that guarded the event: `s:<scope>`, or `o:<topic>-<partition>`. */
  scope: string;
  /** Its seq; the offset for an event guarded by offset. */
  seq: string;
  /** `<topic>-<partition>` of its record. */
  tp: string;
  offset: string;
  /** The record's timestamp, ms since the epoch, as decimal text. */
  ts: string;
  /** The registered mutation. */
  op: string;
  /** The state names it touched, in its definition's key order. */
  keys: string[];
  /** Its arguments, in its definition's order. */
  args: string[];
  /** Applied late, into an open gap (its cursor did not move). */
  late: boolean;
  /** The reason it was refused (nothing changed); undefined when it was applied. */
  refused?: string | undefined;
}

/**
 * The field name of a format-3 entry. The name is the format: an entry of another format has
 * other field names (format 2 `v2`, format 1 starts with `scope`), so every reader can tell them
 * apart, and entries written before a format change stay readable.
 */
export const streamEntryField = 'v3';

/** A word: an op or a refusal reason (core/mutations checks both at registration). */
const word = /^[A-Za-z][A-Za-z0-9]*$/;

/**
 * The value of a format-3 entry: a header of ASCII fields separated by `,`, a `:`, then the
 * free-form texts one after the other:
 *
 *   <scope bytes>,<bytes of each key>,<bytes of each arg but the last>,<seq>,<tp>,<offset>,<ts>,
 *   <op>,<late>,<refused>,<key count>:<scope><keys…><args…>
 *
 * The lengths are in UTF-8 bytes (Lua's `#`); the last argument takes the rest (a mutation has at
 * least one). `late` is `1` or empty, `refused` the reason or empty. `tp` needs no length: Kafka
 * topic names hold only `[a-zA-Z0-9._-]`. One field instead of one per part makes a reader parse
 * three reply strings per entry (replay reads 10,000 at once); the lengths come first, so that the
 * guard writes the texts that repeat in a chunk (scope, names) with cached length texts.
 */
export function encodeStreamEntry(entry: StreamEntry): [typeof streamEntryField, string] {
  if (!word.test(entry.op) || (entry.refused !== undefined && !word.test(entry.refused))) {
    throw new TypeError(`not a stream entry's op or reason: ${entry.op} ${entry.refused ?? ''}`);
  }
  if (entry.args.length === 0) throw new TypeError('a stream entry has at least one argument');
  const texts = [entry.scope, ...entry.keys, ...entry.args];
  const header = [
    ...texts.slice(0, -1).map((text) => Buffer.byteLength(text)),
    entry.seq,
    entry.tp,
    entry.offset,
    entry.ts,
    entry.op,
    entry.late ? '1' : '',
    entry.refused ?? '',
    entry.keys.length,
  ].join(',');
  return [streamEntryField, `${header}:${texts.join('')}`];
}

/** A character beyond ASCII, which takes more than one UTF-8 byte. */
const nonAscii = /[\u0080-\uffff]/;

function notAnEntry(fields: readonly string[], why: string): TypeError {
  const shown = JSON.stringify(fields.slice(0, 4)).slice(0, 200);
  return new TypeError(`not a seqguard stream entry (${why}): ${shown}`);
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

/** The ops met so far that passed `word`: a replay meets the same few ops 10,000 times. */
const wordOps = new Set<string>();

/**
 * Format 3, parsed by hand: this runs once per entry of a replay or a rebuild (10,000 to
 * millions of times), where a regular expression per field, or an array per step, costs more
 * than the rest.
 */
function decodeFormat3(text: string, fields: readonly string[]): StreamEntry {
  const colon = text.indexOf(':');
  if (colon < 0) throw notAnEntry(fields, 'it has no header');
  const header = text.slice(0, colon).split(',');
  // The lengths, then eight fixed fields.
  const lengths = header.length - 8;
  const keyText = header[header.length - 1] as string;
  const keyCount = lengthAt(keyText, 0, keyText.length);
  if (lengths < 1 || keyCount < 0 || keyCount > lengths - 1) {
    throw notAnEntry(fields, 'its header does not fit it');
  }
  const op = header[lengths + 4] as string;
  const late = header[lengths + 5] as string;
  const refused = header[lengths + 6] as string;
  if (!wordOps.has(op)) {
    if (!word.test(op)) throw notAnEntry(fields, `unknown op "${op}"`);
    wordOps.add(op);
  }
  if (late !== '' && late !== '1') throw notAnEntry(fields, 'its header does not fit it');
  // ASCII: byte lengths are string lengths; otherwise the texts are cut from the UTF-8 bytes.
  const bytes = nonAscii.test(text) ? Buffer.from(text, 'utf8') : undefined;
  const total = bytes === undefined ? text.length : bytes.length;
  const keys: string[] = [];
  const args: string[] = [];
  let scope = '';
  let at = colon + 1;
  for (let i = 0; i <= lengths; i++) {
    const part = header[i] as string;
    // The last argument takes the rest.
    const length = i === lengths ? total - at : lengthAt(part, 0, part.length);
    if (length < 0 || at + length > total) throw notAnEntry(fields, 'its header does not fit it');
    const cut = bytes ? bytes.toString('utf8', at, at + length) : text.slice(at, at + length);
    if (i === 0) scope = cut;
    else if (i <= keyCount) keys.push(cut);
    else args.push(cut);
    at += length;
  }
  return {
    scope,
    seq: header[lengths] as string,
    tp: header[lengths + 1] as string,
    offset: header[lengths + 2] as string,
    ts: header[lengths + 3] as string,
    op,
    keys,
    args,
    late: late === '1',
    refused: refused === '' ? undefined : refused,
  };
}

/** Formats 2 and 1 held one key, and args target, value and an hsetIfNewer's version. */
function oneKeyEntry(parts: {
  scope: string;
  seq: string;
  tp: string;
  offset: string;
  ts: string;
  op: string;
  key: string;
  target: string;
  value: string;
  version: string | undefined;
  late: boolean;
}): StreamEntry {
  const args = [parts.target, parts.value];
  if (parts.op === 'hsetIfNewer' && parts.version !== undefined) args.push(parts.version);
  return {
    scope: parts.scope,
    seq: parts.seq,
    tp: parts.tp,
    offset: parts.offset,
    ts: parts.ts,
    op: parts.op,
    keys: [parts.key],
    args,
    late: parts.late,
  };
}

const formerOps: ReadonlySet<string> = new Set(['zincrby', 'hincrby', 'hsetIfNewer']);

/**
 * Format 2: `<scope bytes>,<key bytes>,<target bytes>,<seq>,<tp>,<offset>,<ts>,<op>,<version>,
 * <late>:<scope><key><target><value>`, the value taking the rest.
 */
function decodeFormat2(text: string, fields: readonly string[]): StreamEntry {
  const colon = text.indexOf(':');
  const header = colon < 0 ? [] : text.slice(0, colon).split(',');
  if (header.length !== 10) throw notAnEntry(fields, 'its header does not have 10 fields');
  const [scopeText, keyText, targetText, seq, tp, offset, ts, op, version, late] = header as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const scopeBytes = lengthAt(scopeText, 0, scopeText.length);
  const keyBytes = lengthAt(keyText, 0, keyText.length);
  const targetBytes = lengthAt(targetText, 0, targetText.length);
  const bytes = nonAscii.test(text) ? Buffer.from(text, 'utf8') : undefined;
  const start = colon + 1;
  const keyStart = start + scopeBytes;
  const targetStart = keyStart + keyBytes;
  const valueStart = targetStart + targetBytes;
  if (
    (late !== '' && late !== '1') ||
    scopeBytes < 0 ||
    keyBytes < 0 ||
    targetBytes < 0 ||
    valueStart > (bytes === undefined ? text.length : bytes.length)
  ) {
    throw notAnEntry(fields, 'its header does not fit it');
  }
  if (!formerOps.has(op)) throw notAnEntry(fields, `unknown op "${op}"`);
  const cut = (from: number, to?: number) =>
    bytes ? bytes.toString('utf8', from, to) : text.slice(from, to);
  return oneKeyEntry({
    scope: cut(start, keyStart),
    seq,
    tp,
    offset,
    ts,
    op,
    key: cut(keyStart, targetStart),
    target: cut(targetStart, valueStart),
    value: cut(valueStart),
    version: version === '' ? undefined : version,
    late: late === '1',
  });
}

/** Format 1: `scope seq tp offset op key target value ts [version v] [late 1]`, field by field. */
function decodeFormat1(fields: readonly string[]): StreamEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
  const { scope, seq, tp, offset, op, key, target, value, ts, version } = f;
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
  if (op === undefined || !formerOps.has(op)) throw notAnEntry(fields, `unknown op "${op}"`);
  return oneKeyEntry({
    scope,
    seq,
    tp,
    offset,
    ts,
    op,
    key,
    target,
    value,
    version,
    late: f.late === '1',
  });
}

/**
 * The entry that the field-value pairs of a stream entry (as XRANGE returns them) hold, in any
 * format. Throws a TypeError when they are not a seqguard entry.
 */
export function decodeStreamEntry(fields: readonly string[]): StreamEntry {
  if (fields.length === 2 && fields[0] === streamEntryField) {
    return decodeFormat3(fields[1] as string, fields);
  }
  if (fields.length === 2 && fields[0] === 'v2') return decodeFormat2(fields[1] as string, fields);
  if (fields[0] === 'scope') return decodeFormat1(fields);
  throw notAnEntry(fields, 'unknown format');
}

/** The mutation a stream entry records. */
export function entryMutation(entry: StreamEntry): Mutation {
  return { op: entry.op, keys: entry.keys, args: entry.args };
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
  /** The shard's version stamp (versions.ts): the newest key layout written to it. */
  layout: stampField.layout,
  /** The shard's version stamp: the newest stream entry format written to its stream. */
  streamFormat: stampField.streamFormat,
} as const;

export type MetaField =
  | { kind: 'applied' }
  | { kind: 'count'; name: string }
  | { kind: 'sum'; name: string }
  | { kind: 'stamp'; of: keyof typeof stampField };

/** What a meta hash field is, or undefined for a field the guard does not write. */
export function parseMetaField(field: string): MetaField | undefined {
  if (field === metaField.applied) return { kind: 'applied' };
  if (field === metaField.layout) return { kind: 'stamp', of: 'layout' };
  if (field === metaField.streamFormat) return { kind: 'stamp', of: 'streamFormat' };
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
