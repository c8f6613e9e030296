/**
 * The event contract, as schemas. Two formats reach the same validated shape:
 * - `envelope`: {id?, scope?, seq?, shard?, type, data, ts?}, `type` naming the mutation;
 * - `mapped`: any flat JSON object whose fields a mapping names (the seed's
 *   {sequence_id, player_id, delta} is the default mapping).
 */
import { z } from 'zod';
import { INT64_MAX, toUint63String } from './int64.ts';
import { mutationOps } from './types.ts';

/** Limits on identifiers, so that one bad record cannot bloat keys, fields or the stream. */
export const limits = {
  shard: 128,
  scope: 512,
  key: 128,
  target: 1024,
  value: 65_536,
} as const;

function identifier(maxLength: number) {
  return z
    .string()
    .min(1)
    .max(maxLength)
    .refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)');
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
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (
    (typeof text === 'string' && /^-?(0|[1-9][0-9]{0,18})$/.test(text)) ||
    typeof text === 'bigint'
  ) {
    const n = BigInt(text);
    if (n >= -INT64_MAX - 1n && n <= INT64_MAX) return n.toString();
  }
  ctx.addIssue({ code: 'custom', message: 'must be an integer within int64' });
  return z.NEVER;
});

/** Any JSON scalar, stored as text: well-formed, since a lone surrogate cannot cross into Lua. */
const scalarValue = z
  .union([z.string(), z.number(), z.bigint(), z.boolean()])
  .transform((value) => String(value))
  .pipe(
    z
      .string()
      .max(limits.value)
      .refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)'),
  );

const envelopeHeader = {
  id: z.string().max(limits.scope).optional(),
  scope: z.union([identifier(limits.scope), z.number().transform(String)]).optional(),
  seq: uint63.nullish(),
  shard: identifier(limits.shard).optional(),
  ts: z.number().optional(),
};

/** One object schema per mutation type, told apart by `type` (faster than an intersection). */
export const envelopeSchema = z.discriminatedUnion('type', [
  z.object({
    ...envelopeHeader,
    type: z.literal('zincrby'),
    data: z.object({
      key: identifier(limits.key),
      member: identifier(limits.target),
      delta: floatDelta,
    }),
  }),
  z.object({
    ...envelopeHeader,
    type: z.literal('hincrby'),
    data: z.object({
      key: identifier(limits.key),
      field: identifier(limits.target),
      delta: integerDelta,
    }),
  }),
  z.object({
    ...envelopeHeader,
    type: z.literal('hsetIfNewer'),
    data: z.object({
      key: identifier(limits.key),
      field: identifier(limits.target),
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
    key: identifier(limits.key).default('leaderboard'),
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

/** Renders schema issues as one line: "data.delta: must be a finite number; seq: …". */
export function describeIssues(error: Pick<z.ZodError, 'issues'>): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'event'}: ${issue.message}`)
    .join('; ');
}
