/**
 * The event contract, as schemas. Two formats reach the same validated shape:
 * - `envelope`: {id?, scope?, seq?, shard?, type, data, ts?}, `type` naming a registered
 *   mutation (core/mutations) and `data` holding its fields;
 * - `mapped`: any flat JSON object whose fields a mapping names (the seed's
 *   {sequence_id, player_id, delta} is the default mapping).
 *
 * The envelope is checked on the hot path, once per record: each registered mutation's envelope
 * is a TypeBox schema compiled to one JavaScript function (`typebox/compile`, by the registry),
 * which allocates nothing for a valid event. The compiled check only says yes or no: a valid
 * envelope is then read into plain strings (`readEnvelope`), and a refused one is explained field
 * by field (`envelopeIssues`), off the hot path. Both go through the same field kinds
 * (core/events/fields.ts). The mapping, configuration read once at cold start, stays a zod
 * schema, from zod/mini: the same checks and, parsed with core/config/zod-english.ts, the same
 * messages as zod's classic build, in a tenth of the bundle.
 */

import * as Type from 'typebox/type';
import * as z from 'zod/mini';
import type { MutationRegistry } from '../mutations/define.ts';
import {
  type Field,
  fields,
  type Issue,
  identifier,
  limits,
  received,
  timestamp,
  wellFormedMessage,
} from './fields.ts';
import type { Mutation } from './types.ts';

export { type Issue, limits } from './fields.ts';

/** An event's scope, or the record key standing in for it. */
const scope = identifier(limits.scope);

/** What is wrong with a record key standing in for the scope (empty: nothing). */
export const scopeIssues = (key: string): string[] => scope.issues(key);

/** The fields every envelope may have, in the order their issues are told. */
const header = {
  /** Checked, not used: the guard keys on scope and seq. Empty is allowed, as it always was. */
  id: { field: identifier(limits.id, { min: 0, unicode: false }), nullable: false },
  scope: { field: scope, nullable: false },
  /** null, as absent, is an event guarded by its offset. */
  seq: { field: fields.uint63, nullable: true },
  shard: { field: identifier(limits.shard), nullable: false },
  ts: { field: timestamp, nullable: false },
} as const satisfies Record<string, { field: Field; nullable: boolean }>;

/** The schema of an envelope of mutation `type` whose data has these fields. */
export function envelopeSchemaOf(type: string, data: Readonly<Record<string, Field>>) {
  const properties: Record<string, Type.TSchema> = {};
  for (const [name, { field, nullable }] of Object.entries(header)) {
    properties[name] = Type.Optional(
      nullable ? Type.Union([field.schema, Type.Null()]) : field.schema,
    );
  }
  const dataSchema = Object.fromEntries(
    Object.entries(data).map(([name, field]) => [
      name,
      field.optional ? Type.Optional(field.schema) : field.schema,
    ]),
  );
  return Type.Object({ ...properties, type: Type.Literal(type), data: Type.Object(dataSchema) });
}

/** Whether `value` is a valid envelope: the hot path, compiled. */
export function isEnvelope(value: Record<string, unknown>, mutations: MutationRegistry): boolean {
  const type = value.type;
  if (typeof type !== 'string') return false;
  const registered = mutations.get(type);
  return registered?.check(value) === true;
}

/** Why `value` is not a valid envelope, in the order of the fields; empty when it is one. */
export function envelopeIssues(
  value: Record<string, unknown>,
  mutations: MutationRegistry,
): Issue[] {
  const type = value.type;
  const registered = typeof type === 'string' ? mutations.get(type) : undefined;
  if (registered === undefined) {
    return [
      {
        path: ['type'],
        message: `Invalid discriminator value. Expected ${mutations.names.map((op) => `'${op}'`).join(' | ')}`,
      },
    ];
  }
  const issues: Issue[] = [];
  for (const [name, { field, nullable }] of Object.entries(header)) {
    const fieldValue = value[name];
    if (fieldValue === undefined || (nullable && fieldValue === null)) continue;
    for (const message of field.issues(fieldValue)) issues.push({ path: [name], message });
  }
  const data = value.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    issues.push({
      path: ['data'],
      message: `Invalid input: expected object, received ${received(data)}`,
    });
    return issues;
  }
  for (const [name, field] of Object.entries(registered.definition.data)) {
    const fieldValue = (data as Record<string, unknown>)[name];
    if (fieldValue === undefined && field.optional) continue;
    for (const message of field.issues(fieldValue)) {
      issues.push({ path: ['data', name], message });
    }
  }
  return issues;
}

/** A valid envelope (isEnvelope) read into what the guard needs, every value as its text. */
export interface Envelope {
  scope: string | undefined;
  seq: string | undefined;
  shard: string | undefined;
  mutation: Mutation;
}

/**
 * Reads an envelope that isEnvelope accepted. Its data may still be invalid as a whole (a
 * transfer to itself): the issue is then returned instead.
 */
export function readEnvelope(
  value: Record<string, unknown>,
  mutations: MutationRegistry,
): Envelope | Issue {
  const data = value.data as Record<string, unknown>;
  const registered = mutations.get(value.type as string);
  if (registered === undefined) throw new TypeError(`not a registered type: ${String(value.type)}`);
  const kinds = registered.definition.data as Record<string, Field>;
  const given: Record<string, string | undefined> = {};
  for (const name of registered.fields) {
    const fieldValue = data[name];
    given[name] = fieldValue === undefined ? undefined : (kinds[name] as Field).read(fieldValue);
  }
  const mutation = registered.toMutation(given);
  if ('path' in mutation) return mutation;
  const { scope, seq, shard } = value;
  return {
    scope: scope === undefined ? undefined : header.scope.field.read(scope),
    seq: seq === undefined || seq === null ? undefined : header.seq.field.read(seq),
    shard: shard === undefined ? undefined : header.shard.field.read(shard),
    mutation,
  };
}

/** A name of at least one character. */
const nonEmpty = () => z.string().check(z.minLength(1));

/**
 * Which record or event field holds each part of a flat event. `target`, `value` and `version`
 * name the member or field, the delta or value, and the version of the first three mutations;
 * `fields` names the record field of any data field (a data field not named there is read from
 * the record field of its own name). The data fields that name state keys take `key`.
 */
export const mappingSchema = z
  .strictObject({
    /** Field of the sequence number; events without it are guarded by offset. */
    seq: z._default(nonEmpty(), 'sequence_id'),
    /** `$key` (the record key), `$topicPartition`, or a field name. */
    scope: z._default(nonEmpty(), '$key'),
    /** Field naming the shard; absent means the configured default shard. */
    shard: z.optional(nonEmpty()),
    /** The registered mutation every event of this mapping carries. */
    op: z._default(z.string().check(z.regex(/^[a-z][A-Za-z0-9]*$/)), 'zincrby'),
    /** The state key name every event of this mapping mutates. */
    key: z._default(
      z.string().check(
        z.minLength(1),
        z.maxLength(limits.key),
        z.refine((s) => s.isWellFormed(), wellFormedMessage),
      ),
      'leaderboard',
    ),
    /** Field of the member or hash field (the first target of the mutation). */
    target: z._default(nonEmpty(), 'player_id'),
    /** Field of the delta or of the value to set. */
    value: z._default(nonEmpty(), 'delta'),
    /** Field of the version (hsetIfNewer). */
    version: z.optional(nonEmpty()),
    /** data field -> record field, for any data field. */
    fields: z.optional(z.record(z.string(), nonEmpty())),
  })
  .check(
    z.refine((m) => m.op !== 'hsetIfNewer' || m.version !== undefined || m.fields?.version, {
      message: 'op hsetIfNewer needs a version field',
      path: ['version'],
    }),
  );

export type Mapping = z.output<typeof mappingSchema>;

/**
 * Renders schema issues as one line: "data.delta: must be a finite number; seq: …". A line is
 * said once (a mapping may read one field as both scope and member).
 */
export function describeIssues(issues: readonly Issue[]): string {
  const lines = issues.map(
    (issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'event'}: ${issue.message}`,
  );
  return [...new Set(lines)].join('; ');
}
