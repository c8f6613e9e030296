/**
 * The event contract, as schemas. Two formats reach the same validated shape:
 * - `envelope`: {id?, scope?, seq?, shard?, type, data, ts?}, `type` naming the mutation;
 * - `mapped`: any flat JSON object whose fields a mapping names (the seed's
 *   {sequence_id, player_id, delta} is the default mapping).
 */
import { z } from 'zod';
import { INT64_MAX, toInt64String, toIntegerString, toUint63String } from './int64.ts';
import { mutationOps } from './types.ts';

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

const wellFormed = 'must be well-formed Unicode (no lone surrogates)';

function identifierText(maxLength: number) {
  return z
    .string()
    .min(1)
    .max(maxLength)
    .refine((s) => s.isWellFormed(), wellFormed);
}

/**
 * A JSON string, or a JSON integer as its exact decimal text (DESIGN, "Event contract"): a
 * leaderboard keys players by number, and 12345678901234567890 must name that player, not
 * 1.2345678901234567e19. parseJsonExact hands over plain-digit integers beyond 2^53 as bigint;
 * a number with a fraction or an exponent counts when its value is a safe integer (1e3 is
 * "1000", -0 is "0"), and is refused otherwise (1.5, or 1e20: its double no longer names one
 * integer, so guessing would key another player).
 */
function identifier(text: z.ZodType<string, string>) {
  return z
    .union([z.string(), z.number(), z.bigint()], { error: 'must be a string or an integer' })
    .transform((value, ctx) => {
      if (typeof value === 'string') return value;
      const digits = toIntegerString(value);
      if (digits === null) {
        ctx.addIssue({
          code: 'custom',
          message: Number.isInteger(value)
            ? 'must be written in plain digits (no fraction or exponent) beyond 2^53, to be exact'
            : 'must be a string or an integer',
        });
        return z.NEVER;
      }
      return digits;
    })
    .pipe(text);
}

/** A non-negative int64: a safe integer, a bigint kept exact by the parser, or digits. */
const uint63 = z.union([z.number(), z.bigint(), z.string()]).transform((value, ctx) => {
  const canonical = toUint63String(value);
  if (canonical === null) {
    ctx.addIssue({
      code: 'custom',
      message: `must be an integer from 0 to ${INT64_MAX} (digits only when written as a string)`,
    });
    return z.NEVER;
  }
  return canonical;
});

const floatText = /^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

/** A finite number for ZINCRBY, as the text Redis will parse. */
const floatDelta = z.union([z.number(), z.bigint(), z.string()]).transform((value, ctx) => {
  const text = typeof value === 'string' ? value : value.toString();
  if (!floatText.test(text) || !Number.isFinite(Number(text))) {
    ctx.addIssue({ code: 'custom', message: 'must be a finite number' });
    return z.NEVER;
  }
  return text;
});

/** A signed int64 for HINCRBY. */
const integerDelta = z.union([z.number(), z.bigint(), z.string()]).transform((value, ctx) => {
  const canonical = toInt64String(value);
  if (canonical === null) {
    ctx.addIssue({ code: 'custom', message: 'must be an integer within int64' });
    return z.NEVER;
  }
  return canonical;
});

/** Any JSON scalar, stored as text: well-formed, since a lone surrogate cannot cross into Lua. */
const scalarValue = z
  .union([z.string(), z.number(), z.bigint(), z.boolean()])
  .transform((value) => String(value))
  .pipe(
    z
      .string()
      .max(limits.value)
      .refine((s) => s.isWellFormed(), wellFormed),
  );

/** An event's scope, or the record key standing in for it. */
export const scopeSchema = identifier(identifierText(limits.scope));

const envelopeHeader = {
  /** Checked, not used: the guard keys on scope and seq. Empty is allowed, as it always was. */
  id: identifier(z.string().max(limits.id)).optional(),
  scope: scopeSchema.optional(),
  seq: uint63.nullish(),
  shard: identifier(identifierText(limits.shard)).optional(),
  ts: z.number().optional(),
};

/** One object schema per mutation type, told apart by `type` (faster than an intersection). */
export const envelopeSchema = z.discriminatedUnion('type', [
  z.object({
    ...envelopeHeader,
    type: z.literal('zincrby'),
    data: z.object({
      key: identifier(identifierText(limits.key)),
      member: identifier(identifierText(limits.target)),
      delta: floatDelta,
    }),
  }),
  z.object({
    ...envelopeHeader,
    type: z.literal('hincrby'),
    data: z.object({
      key: identifier(identifierText(limits.key)),
      field: identifier(identifierText(limits.target)),
      delta: integerDelta,
    }),
  }),
  z.object({
    ...envelopeHeader,
    type: z.literal('hsetIfNewer'),
    data: z.object({
      key: identifier(identifierText(limits.key)),
      field: identifier(identifierText(limits.target)),
      value: scalarValue,
      version: uint63,
    }),
  }),
]);

export type Envelope = z.output<typeof envelopeSchema>;

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
    key: identifierText(limits.key).default('leaderboard'),
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
export function describeIssues(error: Pick<z.ZodError, 'issues'>): string {
  const lines = error.issues.map(
    (issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'event'}: ${issue.message}`,
  );
  return [...new Set(lines)].join('; ');
}
