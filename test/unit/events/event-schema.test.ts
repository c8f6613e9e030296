/**
 * The envelope's compiled check (isEnvelope) and its explanation (envelopeIssues) are two readings
 * of the same field definitions (core/events/schema.ts): they must agree on every
 * value, or a record would be refused with no reason, or a reason given for a record accepted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DecodeOptions, decodeRecord } from '../../../core/events/decode.ts';
import {
  envelopeIssues,
  isEnvelope,
  limits,
  mappingSchema,
  readEnvelope,
} from '../../../core/events/schema.ts';
import { defaultMutations } from '../../../core/mutations/builtins/index.ts';
import { mskRecord, mutation } from '../../helpers/events.ts';

const runs = Number(process.env.SEQGUARD_PROPERTY_RUNS ?? 2_000);

/** Values at and around every rule's edges, of every JSON type (and the parser's bigints). */
const edgeValue = fc.constantFrom<unknown>(
  '',
  'a',
  'p-1',
  '42',
  '-0',
  '007',
  '1.5',
  '1e3',
  '.5',
  'ten',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '-9223372036854775809',
  'x'.repeat(limits.key),
  'x'.repeat(limits.key + 1),
  'x'.repeat(limits.scope + 1),
  'x'.repeat(limits.target + 1),
  `${'x'.repeat(limits.key - 1)}😀`,
  '\ud800',
  `${'x'.repeat(limits.key + 1)}\udc00`,
  0,
  -0,
  1,
  -4,
  1.5,
  1e3,
  1e20,
  Number.POSITIVE_INFINITY,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  9_007_199_254_740_993n,
  -9_223_372_036_854_775_809n,
  9_223_372_036_854_775_808n,
  10n ** BigInt(limits.key) - 1n,
  10n ** BigInt(limits.key),
  10n ** 400n,
  true,
  null,
  [],
  {},
);

const field = fc.option(edgeValue, { nil: undefined, freq: 4 });

const envelope = fc.record(
  {
    id: field,
    scope: field,
    seq: field,
    shard: field,
    ts: field,
    type: fc.oneof(
      { arbitrary: fc.constantFrom('zincrby', 'hincrby', 'hsetIfNewer'), weight: 8 },
      { arbitrary: fc.constantFrom('drop', 1, null, 'constructor'), weight: 1 },
    ),
    data: fc.oneof(
      {
        arbitrary: fc.record({
          key: edgeValue,
          member: edgeValue,
          field: edgeValue,
          delta: edgeValue,
          value: edgeValue,
          version: edgeValue,
        }),
        weight: 8,
      },
      { arbitrary: edgeValue, weight: 1 },
    ),
  },
  { requiredKeys: ['type'] },
);

describe('isEnvelope(, defaultMutations) and envelopeIssues(, defaultMutations)', () => {
  it('agree on every value: refused exactly when there is an issue to tell', () => {
    fc.assert(
      fc.property(envelope, (value) => {
        const issues = envelopeIssues(value, defaultMutations);
        expect(isEnvelope(value, defaultMutations), JSON.stringify(issues)).toBe(
          issues.length === 0,
        );
        if (issues.length === 0) expect(() => readEnvelope(value, defaultMutations)).not.toThrow();
      }),
      { numRuns: runs },
    );
  });

  it('reads a valid envelope into the texts the guard stores', () => {
    // Prepare
    const value = {
      scope: 12_345_678_901_234_567_890n,
      seq: 7,
      type: 'hincrby',
      data: { key: 'coins', field: -0, delta: '-0' },
    };
    // Act
    const accepted = isEnvelope(value, defaultMutations);
    // Assess
    expect(accepted).toBe(true);
    expect(readEnvelope(value, defaultMutations)).toEqual({
      scope: '12345678901234567890',
      seq: '7',
      shard: undefined,
      mutation: mutation('hincrby', { key: 'coins', field: '0', delta: '0' }),
    });
  });

  it('counts lengths in UTF-16 code units, as docs/event-format.md says: an emoji counts 2', () => {
    const zincrby = (key: string) => ({
      type: 'zincrby',
      data: { key, member: 'm', delta: 1 },
    });
    expect(isEnvelope(zincrby('😀'.repeat(limits.key / 2)), defaultMutations)).toBe(true);
    expect(envelopeIssues(zincrby(`x${'😀'.repeat(limits.key / 2)}`), defaultMutations)).toEqual([
      {
        path: ['data', 'key'],
        message: `Too big: expected string to have <=${limits.key} characters`,
      },
    ]);
  });

  it('holds bigints to int64 exactly, where a number would round (2^63 is one beyond)', () => {
    const seq = (value: bigint) => ({
      seq: value,
      type: 'zincrby',
      data: { key: 'k', member: 'm', delta: 1 },
    });
    expect(isEnvelope(seq(9_223_372_036_854_775_807n), defaultMutations)).toBe(true);
    expect(isEnvelope(seq(9_223_372_036_854_775_808n), defaultMutations)).toBe(false);
    expect(envelopeIssues(seq(9_223_372_036_854_775_808n), defaultMutations)[0]?.path).toEqual([
      'seq',
    ]);
  });
});

describe('decodeRecord() on base64', () => {
  const options: DecodeOptions = {
    format: 'envelope',
    mapping: mappingSchema.parse({}),
    defaultShard: 'default',
    maxValueBytes: 1024,
  };
  const text = '{"type":"zincrby","data":{"key":"k","member":"m","delta":1}}';
  const withValue = (value: string) => ({
    ...mskRecord({ offset: 1, value: null, key: null }),
    value,
  });

  it('refuses what RFC 4648 base64 is not: whitespace, URL-safe letters, wrong padding', () => {
    const encoded = Buffer.from(text).toString('base64');
    for (const bad of [
      `${encoded} `,
      ` ${encoded}`,
      `${encoded.slice(0, 8)}\n${encoded.slice(8)}`,
      'ab-_',
      `${encoded}=`,
      'YQ=',
    ]) {
      const decoded = decodeRecord(withValue(bad), options);
      expect(decoded.kind === 'invalid' && decoded.invalid.reason, JSON.stringify(bad)).toBe(
        'value is not valid base64',
      );
    }
    expect(decodeRecord(withValue(encoded), options).kind).toBe('event');
  });

  it('refuses base64 without its padding, as Lambda never sends it, saying so', () => {
    // Lambda developer guide, "Using Lambda with Amazon MSK" (MSK event example): key and value
    // are base64-encoded; RFC 4648 section 4 pads to a multiple of 4 characters.
    // A JSON text (spaces after it are JSON's) whose byte length leaves base64 padding.
    const json = text.length % 3 === 0 ? `${text} ` : text;
    const encoded = Buffer.from(json).toString('base64');
    expect(encoded.endsWith('=')).toBe(true);
    const unpadded = encoded.replace(/=+$/, '');
    const decoded = decodeRecord(withValue(unpadded), options);
    expect(decoded.kind === 'invalid' && decoded.invalid.reason).toMatch(
      /^value is not valid base64: unpadded/,
    );
    // The key is read where it stands in for the scope: an event with a seq and no scope.
    const sequenced = Buffer.from(`{"seq":1,${json.slice(1)}`).toString('base64');
    const key = decodeRecord(
      { ...withValue(sequenced), key: Buffer.from('p').toString('base64').replace(/=+$/, '') },
      options,
    );
    expect(key.kind === 'invalid' && key.invalid.reason).toMatch(
      /^record key is not valid base64: unpadded/,
    );
    expect(decodeRecord(withValue(encoded), options).kind).toBe('event');
  });

  it('decodes a value beyond ASCII as UTF-8, dropping a leading BOM as before', () => {
    const json = '{"type":"zincrby","data":{"key":"clé","member":"😀","delta":1}}';
    const encoded = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]);
    const decoded = decodeRecord(withValue(encoded.toString('base64')), options);
    expect(decoded.kind === 'event' && decoded.event.mutation).toMatchObject({
      keys: ['clé'],
      args: ['😀', '1'],
    });
  });
});
