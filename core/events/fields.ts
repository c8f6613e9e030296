/**
 * The kinds of field an event's data may hold: each is one check (its TypeBox schema, which the
 * compiled envelope check runs), the messages that say why a value fails it, and the reading of
 * an accepted value into the text the guard stores. Mutation definitions (core/mutations) name
 * their data with these kinds; core/events/schema.ts compiles them per mutation.
 *
 * TypeBox, rather than ajv, because a parsed event holds bigints (the integers beyond 2^53 that
 * parseJsonExact keeps exact) and TypeBox checks bigint ranges as it checks numbers; JSON Schema,
 * and so ajv, has no bigint.
 */
import * as Type from 'typebox/type';
import { INT64_MAX, INT64_MIN, toInt64String, toIntegerString, toUint63String } from './int64.ts';

/**
 * Limits on identifiers and values, in UTF-16 code units (JavaScript string length), so that
 * one bad record cannot bloat keys, fields or the stream. docs/event-format.md, "Limits", lists them.
 */
export const limits = {
  shard: 128,
  scope: 512,
  id: 512,
  key: 128,
  /** A member or hash field. */
  target: 1024,
  /** A value stored as text (hsetIfNewer). */
  value: 65_536,
} as const;

/** One schema violation: the field's path in the event and what is wrong with it. */
export interface Issue {
  path: readonly string[];
  message: string;
}

/**
 * One field of the contract: `schema` is what the compiled check runs, `issues` says why a value
 * fails it (empty exactly when the schema accepts the value: test/unit/events/event-schema.test.ts
 * holds them to that), `read` turns an accepted value into the text the guard stores.
 */
export interface Field {
  schema: Type.TSchema;
  issues(value: unknown): string[];
  read(value: unknown): string;
  /** Names a state key of the event's shard (only these may be a mutation's keys). */
  stateName?: true;
  /** May be absent: `read` is then not called, and the definition's default is used. */
  optional?: true;
}

const wellFormed = 'must be well-formed Unicode (no lone surrogates)';
const invalidInput = 'Invalid input';
const maxSafe = Number.MAX_SAFE_INTEGER;

export const wellFormedMessage = wellFormed;

/** The type a reason names in "expected …, received …" (zod's words, which the reasons keep). */
export function received(value: unknown): string {
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
export function identifier(max: number, { min = 1, unicode = true } = {}): Field {
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

function isNumberBigintOrString(value: unknown): value is number | bigint | string {
  return (
    (typeof value === 'number' && Number.isFinite(value)) ||
    typeof value === 'bigint' ||
    typeof value === 'string'
  );
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

const floatText = /^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;
const isFloatText = (s: string) => floatText.test(s) && Number.isFinite(Number(s));

/** A finite number, as the text Redis will parse (a sorted-set score or delta). */
const float: Field = {
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

/** A signed int64 (a counter's delta or bound). */
const int64: Field = {
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
const scalar: Field = {
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
export const timestamp: Field = {
  schema: Type.Number(),
  issues: (value) =>
    typeof value === 'number' && Number.isFinite(value)
      ? []
      : [`Invalid input: expected number, received ${received(value)}`],
  read: (value) => String(value),
};

/**
 * The field kinds a mutation's data is made of (core/mutations, defineMutation). Every text a
 * mutation receives is one of these, read canonically, so the Lua and the model see the same
 * text whatever JSON the producer wrote.
 */
export const fields = {
  /** A state key of the event's shard, by name (1 to 128). Only these may be keys. */
  stateName: { ...identifier(limits.key), stateName: true } as Field,
  /** A member of a sorted set or set, or a field of a hash (1 to 1,024). */
  target: identifier(limits.target),
  /** A finite number: a score, or a score's delta. */
  float,
  /** An integer from -2^63 to 2^63 - 1. */
  int64,
  /** An integer from 0 to 2^63 - 1: an amount, a version. */
  uint63,
  /** A string, number or boolean, stored as its text (at most 65,536). */
  scalar,
  /** The same kind, but the field may be absent (the definition gives its default). */
  optional: (field: Field): Field => ({ ...field, optional: true }),
} as const;
