/**
 * The event contract, as schemas. Two formats reach the same validated shape:
 * - `envelope`: {id?, scope?, seq?, shard?, type, data, ts?}, `type` naming the mutation;
 * - `mapped`: any flat JSON object whose fields a mapping names (the seed's
 *   {sequence_id, player_id, delta} is the default mapping).
 *
 * The envelope is checked on the hot path, once per record: its schema is a TypeBox schema
 * compiled to one JavaScript function per mutation type (`typebox/compile`), which allocates
 * nothing for a valid event. TypeBox, rather than ajv, because a parsed event holds bigints (the
 * integers beyond 2^53 that parseJsonExact keeps exact) and TypeBox checks bigint ranges as it
 * checks numbers; JSON Schema, and so ajv, has no bigint. The compiled check only says yes or no:
 * a valid envelope is then read into plain strings (`readEnvelope`), and a refused one is
 * explained field by field (`envelopeIssues`), off the hot path. Both go through the same field
 * definitions below, each one check (its TypeBox schema) with the messages and the reading that
 * belong to it. The mapping, configuration read once at cold start, stays a zod schema.
 */

import { Compile } from 'typebox/compile';
import * as Type from 'typebox/type';
import { z } from 'zod';
import { INT64_MAX, INT64_MIN, toInt64String, toIntegerString, toUint63String } from './int64.ts';
import { type Mutation, mutationOps } from './types.ts';

/**
 * Limits on identifiers and values, in UTF-16 code units (JavaScript string length), so that
 * one bad record cannot bloat keys, fields or the stream. docs/event-format.md, "Limits", lists them.
 */
export const limits = {
  shard: 128,
  scope: 512,
  id: 512,
  key: 128,
  /** A member (zincrby) or hash field (hincrby, hsetIfNewer). */
  target: 1024,
  /** The value of hsetIfNewer. */
  value: 65_536,
} as const;

/** One schema violation: the field's path in the event and what is wrong with it. */
export interface Issue {
  path: readonly string[];
  message: string;
}

/**
 * One field of the contract: `schema` is what the compiled check runs, `issues` says why a value
 * fails it (empty exactly when the schema accepts the value: test/unit/events/event-schema.test.ts holds
 * them to that), `read` turns an accepted value into the text the guard stores.
 */
interface Field {
  schema: Type.TSchema;
  issues(value: unknown): string[];
  read(value: unknown): string;
}

const wellFormed = 'must be well-formed Unicode (no lone surrogates)';
const invalidInput = 'Invalid input';
const maxSafe = Number.MAX_SAFE_INTEGER;

/** The type a reason names in "expected …, received …" (zod's words, which the reasons keep). */
function received(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value;
}

/** What is wrong with a text held to a length (in UTF-16 code units) and, if asked, to Unicode. */
function textIssues(text: string, min: number, max: number, unicode: boolean): string[] {
  const issues: string[] = [];
  if (text.length < min) issues.push(`Too small: expected string to have >=${min} characters`);
  if (text.length > max) issues.push(`Too big: expected string to have <=${max} characters`);
  if (unicode && !text.isWellFormed()) issues.push(wellFormed);
  return issues;
}

/** A string schema held to textIssues' rules (JSON Schema's maxLength counts code points). */
function text(min: number, max: number, unicode: boolean) {
  return Type.Refine(
    Type.String(),
    (s) => s.length >= min && s.length <= max && (!unicode || s.isWellFormed()),
  );
}

/** The bigints whose decimal text has at most `max` characters, the sign included. */
function bigintOfLength(max: number) {
  return bigintWithin(-(10n ** BigInt(max - 1) - 1n), 10n ** BigInt(max) - 1n);
}

/**
 * A bigint from min to max. A Refine, not BigInt's own minimum and maximum: the compiled check
 * writes those as number literals, which round beyond 2^53 (INT64_MAX + 1 would pass).
 */
function bigintWithin(min: bigint, max: bigint) {
  return Type.Refine(Type.BigInt(), (value) => value >= min && value <= max);
}

/**
 * An identifier: a JSON string, or a JSON integer as its exact decimal text (DESIGN, "Event
 * contract"): a leaderboard keys players by number, and 12345678901234567890 must name that
 * player, not 1.2345678901234567e19. parseJsonExact hands over plain-digit integers beyond 2^53
 * as bigint; a number with a fraction or an exponent counts when its value is a safe integer
 * (1e3 is "1000", -0 is "0"), and is refused otherwise (1.5, or 1e20: its double no longer names
 * one integer, so guessing would key another player). The limits hold for the decimal text.
 */
function identifier(max: number, { min = 1, unicode = true } = {}): Field {
  return {
    schema: Type.Union([
      text(min, max, unicode),
      Type.Integer({ minimum: -maxSafe, maximum: maxSafe }),
      bigintOfLength(max),
    ]),
    issues(value) {
      if (typeof value === 'string') return textIssues(value, min, max, unicode);
      if (typeof value === 'number' || typeof value === 'bigint') {
        const digits = toIntegerString(value);
        if (digits !== null) return textIssues(digits, min, max, false);
        if (Number.isInteger(value)) {
          return [
            'must be written in plain digits (no fraction or exponent) beyond 2^53, to be exact',
          ];
        }
      }
      return ['must be a string or an integer'];
    },
    read: (value) => String(value),
  };
}

/** A non-negative int64: a safe integer, a bigint kept exact by the parser, or digits. */
const uint63: Field = {
  schema: Type.Union([
    Type.Integer({ minimum: 0, maximum: maxSafe }),
    bigintWithin(0n, INT64_MAX),
    Type.Refine(Type.String(), (s) => toUint63String(s) !== null),
  ]),
  issues(value) {
    if (!isNumberBigintOrString(value)) return [invalidInput];
    return toUint63String(value) === null
      ? [`must be an integer from 0 to ${INT64_MAX} (digits only when written as a string)`]
      : [];
  },
  read: (value) => String(value),
};

function isNumberBigintOrString(value: unknown): value is number | bigint | string {
  return (
    (typeof value === 'number' && Number.isFinite(value)) ||
    typeof value === 'bigint' ||
    typeof value === 'string'
  );
}

const floatText = /^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;
const isFloatText = (s: string) => floatText.test(s) && Number.isFinite(Number(s));

/** A finite number for ZINCRBY, as the text Redis will parse. */
const floatDelta: Field = {
  schema: Type.Union([
    Type.Number(),
    Type.Refine(Type.BigInt(), (b) => Number.isFinite(Number(b))),
    Type.Refine(Type.String(), isFloatText),
  ]),
  issues(value) {
    if (!isNumberBigintOrString(value)) return [invalidInput];
    return isFloatText(String(value)) ? [] : ['must be a finite number'];
  },
  read: (value) => String(value),
};

/** A signed int64 for HINCRBY. */
const integerDelta: Field = {
  schema: Type.Union([
    Type.Integer({ minimum: -maxSafe, maximum: maxSafe }),
    bigintWithin(INT64_MIN, INT64_MAX),
    Type.Refine(Type.String(), (s) => toInt64String(s) !== null),
  ]),
  issues(value) {
    if (!isNumberBigintOrString(value)) return [invalidInput];
    return toInt64String(value) === null ? ['must be an integer within int64'] : [];
  },
  // A string may be `-0`, which Redis would refuse: read canonically ("0").
  read: (value) => (typeof value === 'string' ? (toInt64String(value) as string) : String(value)),
};

/** Any JSON scalar, stored as text: well-formed, since a lone surrogate cannot cross into Lua. */
const scalarValue: Field = {
  schema: Type.Union([
    text(0, limits.value, true),
    Type.Number(),
    Type.Refine(Type.BigInt(), (b) => String(b).length <= limits.value),
    Type.Boolean(),
  ]),
  issues(value) {
    if (!isNumberBigintOrString(value) && typeof value !== 'boolean') return [invalidInput];
    return textIssues(String(value), 0, limits.value, true);
  },
  read: (value) => String(value),
};

/** A record timestamp an event may carry: checked, not used. */
const timestamp: Field = {
  schema: Type.Number(),
  issues: (value) =>
    typeof value === 'number' && Number.isFinite(value)
      ? []
      : [`Invalid input: expected number, received ${received(value)}`],
  read: (value) => String(value),
};

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
  seq: { field: uint63, nullable: true },
  shard: { field: identifier(limits.shard), nullable: false },
  ts: { field: timestamp, nullable: false },
} as const satisfies Record<string, { field: Field; nullable: boolean }>;

/** The data of each mutation type, in the order its issues are told. */
const dataOf = {
  zincrby: {
    key: identifier(limits.key),
    member: identifier(limits.target),
    delta: floatDelta,
  },
  hincrby: {
    key: identifier(limits.key),
    field: identifier(limits.target),
    delta: integerDelta,
  },
  hsetIfNewer: {
    key: identifier(limits.key),
    field: identifier(limits.target),
    value: scalarValue,
    version: uint63,
  },
} as const satisfies Record<Mutation['op'], Record<string, Field>>;

type MutationType = keyof typeof dataOf;

/** One object schema per mutation type, told apart by `type` before any is run. */
function envelopeSchemaOf(type: MutationType) {
  const properties: Record<string, Type.TSchema> = {};
  for (const [name, { field, nullable }] of Object.entries(header)) {
    properties[name] = Type.Optional(
      nullable ? Type.Union([field.schema, Type.Null()]) : field.schema,
    );
  }
  const data = Object.fromEntries(
    Object.entries(dataOf[type]).map(([name, field]) => [name, (field as Field).schema]),
  );
  return Type.Object({ ...properties, type: Type.Literal(type), data: Type.Object(data) });
}

/** The compiled checks, one per mutation type. */
const checks = Object.fromEntries(
  mutationOps.map((type) => [type, Compile(envelopeSchemaOf(type))]),
) as Record<MutationType, ReturnType<typeof Compile>>;

const isMutationType = (type: unknown): type is MutationType =>
  typeof type === 'string' && Object.hasOwn(dataOf, type);

/** Whether `value` is a valid envelope: the hot path, compiled. */
export function isEnvelope(value: Record<string, unknown>): boolean {
  const type = value.type;
  return isMutationType(type) && checks[type].Check(value);
}

/** Why `value` is not a valid envelope, in the order of the fields; empty when it is one. */
export function envelopeIssues(value: Record<string, unknown>): Issue[] {
  const type = value.type;
  if (!isMutationType(type)) {
    return [
      {
        path: ['type'],
        message: `Invalid discriminator value. Expected ${mutationOps.map((op) => `'${op}'`).join(' | ')}`,
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
  for (const [name, field] of Object.entries(dataOf[type])) {
    const fieldValue = (data as Record<string, unknown>)[name];
    for (const message of (field as Field).issues(fieldValue)) {
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

/** Reads an envelope that isEnvelope accepted. */
export function readEnvelope(value: Record<string, unknown>): Envelope {
  const data = value.data as Record<string, unknown>;
  let mutation: Mutation;
  const type = value.type as MutationType;
  // A switch, not a table of parts: this runs once per record on the sink's hot path.
  switch (type) {
    case 'zincrby':
    case 'hincrby': {
      // The two increments differ only in their target's name: a member, or a field.
      const { key, delta } = dataOf[type];
      mutation = {
        op: type,
        key: key.read(data.key),
        target:
          type === 'zincrby'
            ? dataOf.zincrby.member.read(data.member)
            : dataOf.hincrby.field.read(data.field),
        value: delta.read(data.delta),
      };
      break;
    }
    case 'hsetIfNewer': {
      const { key, field, value: scalar, version } = dataOf.hsetIfNewer;
      mutation = {
        op: 'hsetIfNewer',
        key: key.read(data.key),
        target: field.read(data.field),
        value: scalar.read(data.value),
        version: version.read(data.version),
      };
      break;
    }
  }
  const { scope, seq, shard } = value;
  return {
    scope: scope === undefined ? undefined : header.scope.field.read(scope),
    seq: seq === undefined || seq === null ? undefined : header.seq.field.read(seq),
    shard: shard === undefined ? undefined : header.shard.field.read(shard),
    mutation,
  };
}

/** Which record or event field holds each part of a flat event. */
export const mappingSchema = z
  .object({
    /** Field of the sequence number; events without it are guarded by offset. */
    seq: z.string().min(1).default('sequence_id'),
    /** `$key` (the record key), `$topicPartition`, or a field name. */
    scope: z.string().min(1).default('$key'),
    /** Field naming the shard; absent means the configured default shard. */
    shard: z.string().min(1).optional(),
    op: z.enum(mutationOps).default('zincrby'),
    /** The state key name every event of this mapping mutates. */
    key: z
      .string()
      .min(1)
      .max(limits.key)
      .refine((s) => s.isWellFormed(), wellFormed)
      .default('leaderboard'),
    /** Field of the member (zincrby) or hash field (hincrby, hsetIfNewer). */
    target: z.string().min(1).default('player_id'),
    /** Field of the delta (zincrby, hincrby) or the value to set (hsetIfNewer). */
    value: z.string().min(1).default('delta'),
    /** Field of the version (hsetIfNewer only). */
    version: z.string().min(1).optional(),
  })
  .strict()
  .refine((m) => m.op !== 'hsetIfNewer' || m.version !== undefined, {
    message: 'op hsetIfNewer needs a version field',
    path: ['version'],
  });

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
