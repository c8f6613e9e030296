import { describe, expect, it } from 'vitest';
import { type DecodeOptions, decodeRecord } from '../../../core/events/decode.ts';
import { limits, mappingSchema } from '../../../core/events/schema.ts';
import { mskRecord, mutation } from '../../helpers/events.ts';

const envelope: DecodeOptions = {
  format: 'envelope',
  mapping: mappingSchema.parse({}),
  defaultShard: 'default',
  maxValueBytes: 1024,
};
const seed: DecodeOptions = { ...envelope, format: 'mapped' };

const decode = (value: unknown, options = envelope, key: string | null = 'k-1') =>
  decodeRecord(mskRecord({ topic: 'orders', partition: 2, offset: 77, value, key }), options);

const reasonOf = (value: unknown, options = envelope, key: string | null = 'k-1') => {
  const decoded = decode(value, options, key);
  if (decoded.kind !== 'invalid')
    throw new Error(`expected invalid, got ${JSON.stringify(decoded)}`);
  return decoded.invalid.reason;
};

describe('decodeRecord() with the envelope format', () => {
  it('decodes a sequenced zincrby with its coordinates', () => {
    const decoded = decode({
      scope: 'player-7',
      seq: 12,
      shard: 'lb-eu',
      type: 'zincrby',
      data: { key: 'weekly', member: 'player-7', delta: 2.5 },
    });
    expect(decoded).toEqual({
      kind: 'event',
      event: {
        shard: 'lb-eu',
        sequence: { scope: 'player-7', seq: '12' },
        mutation: mutation('zincrby', { key: 'weekly', member: 'player-7', delta: '2.5' }),
        record: { topic: 'orders', partition: 2, offset: '77', timestamp: 1_700_000_000_000 },
      },
    });
  });

  it('takes the scope from the record key and the default shard when the event names neither', () => {
    const decoded = decode({
      seq: '3',
      type: 'hincrby',
      data: { key: 'coins', field: 'f', delta: -4 },
    });
    expect(decoded.kind === 'event' && decoded.event).toMatchObject({
      shard: 'default',
      sequence: { scope: 'k-1', seq: '3' },
      mutation: { op: 'hincrby', args: ['f', '-4'] },
    });
  });

  it('guards an event without seq by its offset', () => {
    const decoded = decode(
      { type: 'zincrby', data: { key: 'b', member: 'm', delta: 1 } },
      envelope,
      null,
    );
    expect(decoded.kind === 'event' && decoded.event.sequence).toBeNull();
  });

  it('keeps seqs, versions and counter deltas above 2^53 exact from JSON numbers', () => {
    const text =
      '{"scope":"s","seq":9223372036854775807,"type":"hsetIfNewer","data":{"key":"p","field":"f","value":true,"version":9007199254740993}}';
    const decoded = decode(text);
    expect(decoded.kind === 'event' && decoded.event).toMatchObject({
      sequence: { seq: '9223372036854775807' },
      mutation: { op: 'hsetIfNewer', args: ['f', 'true', '9007199254740993'] },
    });
    const counter = decode(
      '{"seq":1,"type":"hincrby","data":{"key":"c","field":"f","delta":-9007199254740993}}',
    );
    expect(counter.kind === 'event' && counter.event.mutation.args[1]).toBe('-9007199254740993');
  });

  it('names each schema violation by its path', () => {
    expect(
      reasonOf({ seq: -1, type: 'zincrby', data: { key: 'b', member: 'm', delta: 1 } }),
    ).toMatch(/^schema: seq: must be an integer from 0 to 9223372036854775807/);
    expect(reasonOf({ type: 'zincrby', data: { key: 'b', member: 'm', delta: 'ten' } })).toBe(
      'schema: data.delta: must be a finite number',
    );
    expect(reasonOf({ type: 'hincrby', data: { key: 'b', field: 'm', delta: 1.5 } })).toBe(
      'schema: data.delta: must be an integer within int64',
    );
    expect(reasonOf({ type: 'drop', data: {} })).toMatch(/^schema: type: /);
    expect(reasonOf({ type: 'zincrby', data: { key: '', member: 'm', delta: 1 } })).toMatch(
      /^schema: data.key: /,
    );
    expect(
      reasonOf(
        { seq: 1, type: 'zincrby', data: { key: 'b', member: 'm', delta: 1 } },
        envelope,
        null,
      ),
    ).toBe('event has a seq but no scope, and the record has no key');
  });

  it('rejects a value with a lone surrogate, which the Lua JSON decoder would refuse', () => {
    const text =
      '{"type":"hsetIfNewer","data":{"key":"p","field":"f","value":"\\ud800","version":1}}';
    expect(reasonOf(text)).toBe(
      'schema: data.value: must be well-formed Unicode (no lone surrogates)',
    );
  });

  it('rejects oversize, non-UTF-8, non-JSON, non-object values and tombstones', () => {
    expect(reasonOf({ pad: 'x'.repeat(2000) })).toMatch(
      /^value is 20\d\d bytes, above the limit of 1024$/,
    );
    expect(reasonOf(Buffer.from([0xc3, 0x28]))).toBe('value is not UTF-8');
    expect(reasonOf('{"a":')).toMatch(/^value is not JSON: /);
    expect(reasonOf('"text"')).toBe('value is not a JSON object');
    expect(reasonOf(null)).toBe('record has no value (tombstone)');
  });

  it('measures the size limit on the bytes, before decoding', () => {
    const exactly = { pad: 'x'.repeat(1024 - '{"pad":""}'.length) };
    expect(decode(exactly).kind).toBe('invalid'); // a valid size, but no type: reaches the schema
    expect(reasonOf(exactly)).toMatch(/^schema: /);
    expect(reasonOf({ pad: `${exactly.pad}x` })).toBe(
      'value is 1025 bytes, above the limit of 1024',
    );
  });
});

describe('decodeRecord() with integer identifiers', () => {
  /** An envelope zincrby whose identifiers are raw JSON texts, so that numbers stay as written. */
  const zincrbyText = (ids: { scope?: string; shard?: string; key?: string; member?: string }) =>
    `{"id":"e-1","scope":${ids.scope ?? '"s"'},"seq":1,"shard":${ids.shard ?? '"sh"'},` +
    `"type":"zincrby","data":{"key":${ids.key ?? '"k"'},"member":${ids.member ?? '"m"'},"delta":1}}`;

  it('takes integers of any size, negative too, as their exact decimal text', () => {
    // Prepare
    const text = zincrbyText({
      scope: '12345678901234567890',
      shard: '-12345678901234567890',
      key: '7',
      member: '123456789012345678901234567890123456789012345678901234567890',
    });
    const field =
      '{"seq":1,"type":"hincrby","data":{"key":"c","field":-9007199254740993,"delta":1}}';
    // Act
    const zincrby = decode(text);
    const hincrby = decode(field);
    // Assess
    expect(zincrby.kind === 'event' && zincrby.event).toMatchObject({
      shard: '-12345678901234567890',
      sequence: { scope: '12345678901234567890', seq: '1' },
      mutation: {
        keys: ['7'],
        args: ['123456789012345678901234567890123456789012345678901234567890', '1'],
      },
    });
    expect(hincrby.kind === 'event' && hincrby.event.mutation.args[0]).toBe('-9007199254740993');
  });

  it('takes the exact path for every identifier of 16 digits or more (2^53 has 16)', () => {
    for (const digits of ['1234567890123456', '9007199254740991', '9007199254740993']) {
      const decoded = decode(zincrbyText({ scope: digits, member: digits }));
      expect(decoded.kind === 'event' && decoded.event.sequence?.scope, digits).toBe(digits);
      expect(decoded.kind === 'event' && decoded.event.mutation.args[0], digits).toBe(digits);
    }
  });

  it('reads an integer written with an exponent or a fraction, or as -0, by its value within 2^53', () => {
    const cases = {
      '1e3': '1000',
      '1.0': '1',
      '-2E2': '-200',
      '-0': '0',
      '9007199254740991.0': '9007199254740991',
    };
    for (const [written, text] of Object.entries(cases)) {
      const decoded = decode(zincrbyText({ scope: written, member: written }));
      expect(decoded.kind === 'event' && decoded.event.sequence?.scope, written).toBe(text);
      expect(decoded.kind === 'event' && decoded.event.mutation.args[0], written).toBe(text);
    }
  });

  it('dead-letters non-integers, and integers beyond 2^53 that a fraction or exponent made inexact', () => {
    expect(reasonOf(zincrbyText({ member: '1.5' }))).toBe(
      'schema: data.member: must be a string or an integer',
    );
    for (const written of ['1e20', '1.2345678901234567e19', '12345678901234567.0']) {
      expect(reasonOf(zincrbyText({ member: written })), written).toBe(
        'schema: data.member: must be written in plain digits (no fraction or exponent) beyond 2^53, to be exact',
      );
    }
    expect(reasonOf(zincrbyText({ key: 'true' }))).toBe(
      'schema: data.key: must be a string or an integer',
    );
  });

  it('names one identifier by the number 42 and the string "42"; "007" is its own, 007 is not JSON', () => {
    const number = decode(zincrbyText({ member: '42' }));
    const string = decode(zincrbyText({ member: '"42"' }));
    const padded = decode(zincrbyText({ member: '"007"' }));
    expect(number.kind === 'event' && number.event.mutation.args[0]).toBe('42');
    expect(string.kind === 'event' && string.event.mutation.args[0]).toBe('42');
    expect(padded.kind === 'event' && padded.event.mutation.args[0]).toBe('007');
    expect(reasonOf(zincrbyText({ member: '007' }))).toMatch(/^value is not JSON: /);
  });

  it('holds each identifier to its length limit, counted on the decimal text of an integer', () => {
    const at = (length: number) => `1${'0'.repeat(length - 1)}`;
    const large = { ...envelope, maxValueBytes: 2 * limits.value };
    for (const [field, limit] of [
      ['scope', limits.scope],
      ['shard', limits.shard],
      ['key', limits.key],
      ['member', limits.target],
    ] as const) {
      expect(decode(zincrbyText({ [field]: at(limit) }), large).kind, field).toBe('event');
      expect(reasonOf(zincrbyText({ [field]: at(limit + 1) }), large), field).toMatch(
        new RegExp(`: Too big: expected string to have <=${limit} characters$`),
      );
    }
    const id = (text: string) =>
      `{"id":${text},"type":"zincrby","data":{"key":"k","member":"m","delta":1}}`;
    expect(decode(id(at(limits.id))).kind).toBe('event');
    expect(reasonOf(id(at(limits.id + 1)))).toMatch(/^schema: id: Too big/);
    const value = (v: string) => ({
      type: 'hsetIfNewer',
      data: { key: 'p', field: 'f', value: v, version: 1 },
    });
    expect(decode(value('x'.repeat(limits.value)), large).kind).toBe('event');
    expect(reasonOf(value('x'.repeat(limits.value + 1)), large)).toMatch(
      /^schema: data.value: Too big/,
    );
  });

  it('holds a record key standing in for the scope to the scope limit', () => {
    const unscoped = { seq: 1, type: 'zincrby', data: { key: 'k', member: 'm', delta: 1 } };
    expect(decode(unscoped, envelope, 'k'.repeat(limits.scope)).kind).toBe('event');
    expect(reasonOf(unscoped, envelope, 'k'.repeat(limits.scope + 1))).toBe(
      `schema: record key: Too big: expected string to have <=${limits.scope} characters`,
    );
  });
});

describe('decodeRecord() with the mapped format', () => {
  it("reads the seed's {sequence_id, player_id, delta} with the default mapping", () => {
    const decoded = decode({ sequence_id: 5, player_id: 'p-9', delta: 3 }, seed, 'p-9');
    expect(decoded.kind === 'event' && decoded.event).toEqual({
      shard: 'default',
      sequence: { scope: 'p-9', seq: '5' },
      mutation: mutation('zincrby', { key: 'leaderboard', member: 'p-9', delta: '3' }),
      record: expect.objectContaining({ offset: '77' }),
    });
  });

  it('maps any mutation: a payout with its floor, a transfer between two keys', () => {
    // Prepare: `fields` names the record fields beyond target and value.
    const payout = mappingSchema.parse({
      scope: 'account',
      op: 'debit',
      key: 'balances',
      target: 'account',
      value: 'cents',
      fields: { floor: 'overdraft' },
    });
    const transfer = mappingSchema.parse({
      scope: 'account',
      op: 'transfer',
      key: 'balances',
      target: 'account',
      value: 'cents',
      fields: { to: 'payee', toKey: 'ledger' },
    });
    // Act
    const debit = decode(
      { sequence_id: 1, account: 'acc-1', cents: 250, overdraft: -100 },
      { ...seed, mapping: payout },
    );
    const moved = decode(
      { sequence_id: 2, account: 'acc-1', cents: 40, payee: 'acc-2', ledger: 'escrow' },
      { ...seed, mapping: transfer },
    );
    const toItself = decode(
      { sequence_id: 3, account: 'acc-1', cents: 40, payee: 'acc-1', ledger: 'balances' },
      { ...seed, mapping: transfer },
    );
    const badFloor = decode(
      { sequence_id: 4, account: 'acc-1', cents: 1, overdraft: 'lots' },
      { ...seed, mapping: payout },
    );
    // Assess
    expect(debit.kind === 'event' && debit.event.mutation).toEqual(
      mutation('debit', { key: 'balances', field: 'acc-1', amount: 250, floor: -100 }),
    );
    expect(moved.kind === 'event' && moved.event.mutation).toEqual(
      mutation('transfer', {
        key: 'balances',
        from: 'acc-1',
        to: 'acc-2',
        toKey: 'escrow',
        amount: 40,
      }),
    );
    expect(toItself.kind === 'invalid' && toItself.invalid.reason).toBe(
      'schema: data: a transfer to itself (the same key and field)',
    );
    expect(badFloor.kind === 'invalid' && badFloor.invalid.reason).toBe(
      'schema: overdraft: must be an integer within int64',
    );
  });

  it('follows a custom mapping: scope from a field, shard from a field, counters', () => {
    const mapping = mappingSchema.parse({
      seq: 'n',
      scope: 'account',
      shard: 'tenant',
      op: 'hincrby',
      key: 'balances',
      target: 'account',
      value: 'cents',
    });
    const decoded = decode(
      { n: 2, account: 'acc-1', tenant: 't-1', cents: 250 },
      { ...seed, mapping },
      null,
    );
    expect(decoded.kind === 'event' && decoded.event).toMatchObject({
      shard: 't-1',
      sequence: { scope: 'acc-1', seq: '2' },
      mutation: mutation('hincrby', { key: 'balances', field: 'acc-1', delta: '250' }),
    });
  });

  it('scopes by topic-partition when asked, and by offset when the seq field is absent', () => {
    const byPartition = { ...seed, mapping: mappingSchema.parse({ scope: '$topicPartition' }) };
    const decoded = decode({ sequence_id: 1, player_id: 'p', delta: 1 }, byPartition, null);
    expect(decoded.kind === 'event' && decoded.event.sequence).toEqual({
      scope: 'orders-2',
      seq: '1',
    });
    const unsequenced = decode({ player_id: 'p', delta: 1 }, seed, null);
    expect(unsequenced.kind === 'event' && unsequenced.event.sequence).toBeNull();
  });

  it('applies the seed format with a numeric player_id to that exact member', () => {
    const text = '{"sequence_id": 1, "player_id": 90071992547409931, "delta": 5}';
    const decoded = decode(text, seed, '90071992547409931');
    expect(decoded.kind === 'event' && decoded.event).toMatchObject({
      sequence: { scope: '90071992547409931', seq: '1' },
      mutation: mutation('zincrby', {
        key: 'leaderboard',
        member: '90071992547409931',
        delta: '5',
      }),
    });
  });

  it('takes numeric scope and shard fields as their exact decimal text', () => {
    const mapping = mappingSchema.parse({ scope: 'player_id', shard: 'region' });
    const text = '{"sequence_id": 3, "player_id": 12345678901234567890, "region": 44, "delta": 1}';
    const decoded = decode(text, { ...seed, mapping }, null);
    expect(decoded.kind === 'event' && decoded.event).toMatchObject({
      shard: '44',
      sequence: { scope: '12345678901234567890', seq: '3' },
      mutation: { args: ['12345678901234567890', '1'] },
    });
    expect(reasonOf('{"sequence_id": 3, "player_id": 2.5, "delta": 1}', { ...seed, mapping })).toBe(
      'schema: player_id: must be a string or an integer',
    );
  });

  it("names violations by the user's own field names", () => {
    expect(reasonOf({ sequence_id: 'x', player_id: 'p', delta: 1 }, seed)).toMatch(
      /^schema: sequence_id: /,
    );
    expect(reasonOf({ sequence_id: 1, player_id: 'p', delta: 'lots' }, seed)).toBe(
      'schema: delta: must be a finite number',
    );
    expect(reasonOf({ sequence_id: 1, delta: 1 }, seed)).toMatch(/^schema: player_id: /);
  });

  it('refuses a mapping for hsetIfNewer without a version field', () => {
    expect(mappingSchema.safeParse({ op: 'hsetIfNewer' }).success).toBe(false);
    expect(mappingSchema.safeParse({ op: 'hsetIfNewer', version: 'v' }).success).toBe(true);
    expect(mappingSchema.safeParse({ sequence: 'x' }).success).toBe(false);
  });
});
