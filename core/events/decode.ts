/**
 * One Kafka record, as the Lambda event carries it (base64 key and value), to a guarded event
 * or to the reason it cannot be one. Pure: no I/O, no clock.
 */
import type { MSKRecord } from 'aws-lambda';
import { defaultMutations } from '../mutations/builtins/index.ts';
import type { MutationRegistry, RegisteredMutation } from '../mutations/registry.ts';
import { parseJsonExact } from './int64.ts';
import {
  describeIssues,
  envelopeIssues,
  type Issue,
  isEnvelope,
  type Mapping,
  readEnvelope,
  scopeIssues,
} from './schema.ts';
import { topicPartition } from './topic-partition.ts';
import type { GuardedEvent, InvalidRecord, RecordCoordinates } from './types.ts';

export interface DecodeOptions {
  format: 'envelope' | 'mapped';
  /** Used by the `mapped` format. */
  mapping: Mapping;
  /** The shard of events that name none. */
  defaultShard: string;
  /** Larger values are dead-lettered unread. */
  maxValueBytes: number;
  /** The registered mutations an event's `type` may name; the built-in ones when absent. */
  mutations?: MutationRegistry;
}

export type Decoded =
  | { kind: 'event'; event: GuardedEvent }
  | { kind: 'invalid'; invalid: InvalidRecord };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function coordinatesOf(record: MSKRecord): RecordCoordinates {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestamp: record.timestamp,
  };
}

/** Why a decode stops: the message becomes the dead-letter reason. */
class Invalid extends Error {}

/** The bytes a base64 text of this length and padding decodes to. */
function decodedLength(encoded: string): number {
  const padding = encoded.endsWith('==') ? 2 : encoded.endsWith('=') ? 1 : 0;
  return Math.floor((encoded.length * 3) / 4) - padding;
}

/**
 * Base64 to text, strictly: the alphabet and padding of RFC 4648 section 4, and UTF-8. That is
 * what Lambda puts in an MSK event (the record's key and value "base64-encoded"), and what AWS's
 * own MSK consumer examples decode with decoders that require the padding (Python's
 * base64.b64decode, Go's base64.StdEncoding). A value without its padding was not written by
 * Lambda: it is dead-lettered with that reason, its text kept as it came, rather than guessed at.
 * `atob` decodes straight into a one-byte string (no Buffer) and refuses any other character,
 * but it skips ASCII whitespace and takes a text without its padding (HTML's forgiving-base64):
 * a text whose length does not match what it decoded to held whitespace or wrong padding. An
 * ASCII value, the usual case, is then its own text; any other is checked as UTF-8 (a leading
 * BOM is dropped, as TextDecoder does).
 */
function decodeText(encoded: string, what: string): string {
  if (encoded.length % 4 !== 0 && /^[A-Za-z0-9+/]+$/.test(encoded)) {
    throw new Invalid(
      `${what} is not valid base64: unpadded (RFC 4648 section 4 pads it to a multiple of 4 characters, as Lambda's MSK events do)`,
    );
  }
  let bytes: string;
  try {
    bytes = atob(encoded);
  } catch {
    throw new Invalid(`${what} is not valid base64`);
  }
  if (encoded.length % 4 !== 0 || bytes.length !== decodedLength(encoded)) {
    throw new Invalid(`${what} is not valid base64`);
  }
  // One UTF-8 byte per character exactly when every byte is below 0x80.
  if (Buffer.byteLength(bytes, 'utf8') === bytes.length) return bytes;
  try {
    return utf8.decode(Buffer.from(bytes, 'latin1'));
  } catch {
    throw new Invalid(`${what} is not UTF-8`);
  }
}

function readValue(record: MSKRecord, maxValueBytes: number): unknown {
  const encoded = record.value as string | null | undefined;
  if (encoded === null || encoded === undefined)
    throw new Invalid('record has no value (tombstone)');
  // Checked on the base64 length, before anything is decoded.
  const bytes = decodedLength(encoded);
  if (bytes > maxValueBytes) {
    throw new Invalid(`value is ${bytes} bytes, above the limit of ${maxValueBytes}`);
  }
  const text = decodeText(encoded, 'value');
  try {
    return parseJsonExact(text);
  } catch (error) {
    throw new Invalid(`value is not JSON: ${(error as Error).message}`);
  }
}

function readKey(record: MSKRecord): string | null {
  const encoded = record.key as string | null | undefined;
  if (encoded === null || encoded === undefined || encoded === '') return null;
  return decodeText(encoded, 'record key');
}

/** The record key as an envelope's scope, held to the same limits as a scope in the event. */
function scopeOfKey(record: MSKRecord): string | null {
  const key = readKey(record);
  if (key === null) return null;
  const issues = scopeIssues(key);
  if (issues.length > 0) {
    throw new Invalid(
      `schema: ${describeIssues(issues.map((message) => ({ path: ['record key'], message })))}`,
    );
  }
  return key;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Which record field holds each data field of a mutation in the mapped format: the mapping's
 * `fields` first; then `target` for the member or field of its first key, `value` for its first
 * other argument, `version` for a field named so; else the data field's own name. Key fields
 * take the mapping's `key`, a constant.
 */
function mappedFields(registered: RegisteredMutation, mapping: Mapping): Map<string, string> {
  // Asked for every record of a batch, with the same two: worked out once.
  let byMutation = mappedFieldsCache.get(mapping);
  if (byMutation === undefined) {
    byMutation = new WeakMap();
    mappedFieldsCache.set(mapping, byMutation);
  }
  let names = byMutation.get(registered);
  if (names === undefined) {
    names = mappedFieldsOf(registered, mapping);
    byMutation.set(registered, names);
  }
  return names;
}

const mappedFieldsCache = new WeakMap<Mapping, WeakMap<RegisteredMutation, Map<string, string>>>();

function mappedFieldsOf(registered: RegisteredMutation, mapping: Mapping): Map<string, string> {
  const { definition } = registered;
  const targets = new Set(Object.values(definition.targets) as string[]);
  const target = (definition.targets as Record<string, string>)[definition.keys[0] as string];
  const value = definition.args.find((field) => !targets.has(field));
  const names = new Map<string, string>();
  for (const field of definition.args) {
    const named =
      mapping.fields?.[field] ??
      (field === target
        ? mapping.target
        : field === value
          ? mapping.value
          : field === 'version'
            ? mapping.version
            : undefined);
    names.set(field, named ?? field);
  }
  return names;
}

/** The mapped format's fields, renamed to an envelope so that one schema validates both. */
function envelopeFromMapping(
  value: Record<string, unknown>,
  mapping: Mapping,
  registered: RegisteredMutation | undefined,
  record: MSKRecord,
): Record<string, unknown> {
  const scope =
    mapping.scope === '$key'
      ? (readKey(record) ?? undefined)
      : mapping.scope === '$topicPartition'
        ? topicPartition(record)
        : value[mapping.scope];
  const data: Record<string, unknown> = {};
  if (registered !== undefined) {
    for (const field of registered.definition.keys) {
      const named = mapping.fields?.[field];
      data[field] = named === undefined ? mapping.key : value[named];
    }
    for (const [field, name] of mappedFields(registered, mapping)) data[field] = value[name];
  }
  return {
    seq: value[mapping.seq],
    scope,
    shard: mapping.shard === undefined ? undefined : value[mapping.shard],
    type: mapping.op,
    data,
  };
}

/** Issue paths of the mapped format, named by the user's own fields. */
function describeMappedIssues(
  issues: readonly Issue[],
  mapping: Mapping,
  registered: RegisteredMutation | undefined,
): string {
  const names: Record<string, string | undefined> = {
    seq: mapping.seq,
    scope: mapping.scope,
    shard: mapping.shard,
  };
  if (registered !== undefined) {
    for (const [field, name] of mappedFields(registered, mapping)) names[`data.${field}`] = name;
    for (const field of registered.definition.keys) {
      const named = mapping.fields?.[field];
      if (named !== undefined) names[`data.${field}`] = named;
    }
  }
  return describeIssues(
    issues.map((issue) => {
      const renamed = names[issue.path.join('.')];
      return renamed === undefined ? issue : { ...issue, path: [renamed] };
    }),
  );
}

function toEvent(record: MSKRecord, options: DecodeOptions): GuardedEvent {
  const value = readValue(record, options.maxValueBytes);
  if (!isObject(value)) throw new Invalid('value is not a JSON object');
  const mutations = options.mutations ?? defaultMutations;
  const mapped = options.format === 'mapped' ? mutations.get(options.mapping.op) : undefined;
  const candidate =
    options.format === 'mapped'
      ? envelopeFromMapping(value, options.mapping, mapped, record)
      : value;
  const describe = (issues: Issue[]) =>
    `schema: ${options.format === 'mapped' ? describeMappedIssues(issues, options.mapping, mapped) : describeIssues(issues)}`;
  if (!isEnvelope(candidate, mutations)) {
    throw new Invalid(describe(envelopeIssues(candidate, mutations)));
  }
  const envelope = readEnvelope(candidate, mutations);
  if (!('mutation' in envelope)) throw new Invalid(describe([envelope]));
  let sequence: GuardedEvent['sequence'] = null;
  if (envelope.seq !== undefined) {
    const scope = envelope.scope ?? scopeOfKey(record);
    if (scope === null)
      throw new Invalid('event has a seq but no scope, and the record has no key');
    sequence = { scope, seq: envelope.seq };
  }
  return {
    shard: envelope.shard ?? options.defaultShard,
    sequence,
    mutation: envelope.mutation,
    record: coordinatesOf(record),
  };
}

export function decodeRecord(record: MSKRecord, options: DecodeOptions): Decoded {
  try {
    return { kind: 'event', event: toEvent(record, options) };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    return { kind: 'invalid', invalid: { record: coordinatesOf(record), reason: error.message } };
  }
}
