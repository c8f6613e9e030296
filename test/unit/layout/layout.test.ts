/**
 * The codecs of the data layout (core/layout/codecs.ts). That the Lua writes what
 * these read is test/integration/layout.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeGapMember,
  decodeStreamEntry,
  encodeGapMember,
  encodeStreamEntry,
  entryMutation,
  metaField,
  metaStateNames,
  parseMetaField,
  parseScore,
  type StreamEntry,
  scoreText,
  versionField,
} from '../../../core/layout/codecs.ts';

const entry: StreamEntry = {
  scope: 's:scope-a',
  seq: '7',
  tp: 'events-0',
  offset: '40',
  ts: '1700000000000',
  op: 'zincrby',
  keys: ['leaderboard'],
  args: ['player-1', '2.5'],
  late: false,
  refused: undefined,
};

/** Well-formed text of any code points, separators of the format included. */
const text = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom(',', ':', 'é', '😀', '\u0000'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    ),
  })
  .filter((s) => s.isWellFormed());

describe('encodeStreamEntry() and decodeStreamEntry()', () => {
  it('write one field, and read back every part of it', () => {
    // Act
    const fields = encodeStreamEntry(entry);
    // Assess
    expect(fields).toEqual([
      'v3',
      '9,11,8,7,events-0,40,1700000000000,zincrby,,,1:s:scope-aleaderboardplayer-12.5',
    ]);
    expect(decodeStreamEntry(fields)).toEqual(entry);
  });

  it('write a refusal with its reason, and a mutation of two keys', () => {
    // Prepare: a transfer between two keys that was refused.
    const refused: StreamEntry = {
      ...entry,
      op: 'transfer',
      keys: ['wallets', 'escrow'],
      args: ['alice', 'bob', '500', '0'],
      refused: 'insufficient',
    };
    // Act
    const fields = encodeStreamEntry(refused);
    // Assess
    expect(fields[1]).toBe(
      '9,7,6,5,3,3,7,events-0,40,1700000000000,transfer,,insufficient,2:s:scope-awalletsescrowalicebob5000',
    );
    expect(decodeStreamEntry(fields)).toEqual(refused);
  });

  it('round-trip any texts, separators and characters beyond ASCII included', () => {
    fc.assert(
      fc.property(
        text,
        fc.array(text, { minLength: 1, maxLength: 3 }),
        fc.array(text, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.option(fc.constantFrom('insufficient', 'capped')),
        (scope, keys, args, late, refused) => {
          const written: StreamEntry = {
            ...entry,
            scope: `s:${scope}`,
            keys,
            args,
            late,
            refused: refused ?? undefined,
          };
          expect(decodeStreamEntry(encodeStreamEntry(written))).toEqual(written);
        },
      ),
    );
  });

  it('reads an entry of format 2, as the guard wrote it before, in the shape of format 3', () => {
    // Prepare: as XRANGE returns an entry written by the previous applyBatch.
    const old = ['v2', '9,7,4,7,events-0,40,1700000000000,hsetIfNewer,9,1:s:scope-aprofilenameAnn'];
    // Act
    const decoded = decodeStreamEntry(old);
    // Assess
    expect(decoded).toEqual({
      ...entry,
      op: 'hsetIfNewer',
      keys: ['profile'],
      args: ['name', 'Ann', '9'],
      late: true,
      refused: undefined,
    });
    expect(
      decodeStreamEntry([
        'v2',
        '9,11,8,7,events-0,40,1700000000000,zincrby,,:s:scope-aleaderboardplayer-12.5',
      ]),
    ).toEqual({ ...entry, refused: undefined });
  });

  it('reads an entry of format 1 (ten fields or more), as the guard wrote them before', () => {
    // Prepare: as XRANGE returns an entry written by the first applyBatch.
    const old = [
      ...['scope', 's:scope-a', 'seq', '7', 'tp', 'events-0', 'offset', '40'],
      ...['op', 'hsetIfNewer', 'key', 'profile', 'target', 'name', 'value', 'Ann'],
      ...['ts', '1700000000000', 'version', '9', 'late', '1'],
    ];
    // Act
    const decoded = decodeStreamEntry(old);
    // Assess
    expect(decoded).toMatchObject({
      op: 'hsetIfNewer',
      keys: ['profile'],
      args: ['name', 'Ann', '9'],
      late: true,
    });
    expect(decodeStreamEntry(old.slice(0, 20))).toMatchObject({
      args: ['name', 'Ann', '9'],
      late: false,
    });
  });

  it('refuses what is not a seqguard entry', () => {
    for (const fields of [
      ['old', '1'],
      ['v2', 'no header'],
      ['v2', '9,11,8,7,events-0,40,1,zincrby,:s:scope-aleaderboardplayer-12'],
      ['v2', '99,11,8,7,events-0,40,1,zincrby,,:s:scope-a'],
      ['v2', '9,11,8,7,events-0,40,1,zadd,,:s:scope-aleaderboardplayer-12'],
      ['v2', '9,11,8,7,events-0,40,1,zincrby,,x:s:scope-aleaderboardplayer-12'],
      ['scope', 's:a', 'seq', '1'],
      ['v3', 'no header'],
      ['v3', '9,11,99,7,events-0,40,1,zincrby,,,1:s:scope-aleaderboardplayer-12'],
      ['v3', '7,events-0,40,1,zincrby,,,1:s:scope-aleaderboardplayer-12.5'],
      ['v3', '9,11,8,7,events-0,40,1,zincrby,,,4:s:scope-aleaderboardplayer-12.5'],
      ['v3', '9,11,8,7,events-0,40,1,z-add,,,1:s:scope-aleaderboardplayer-12.5'],
      ['v3', '9,11,8,7,events-0,40,1,zincrby,2,,1:s:scope-aleaderboardplayer-12.5'],
    ]) {
      expect(() => decodeStreamEntry(fields), JSON.stringify(fields)).toThrow(TypeError);
    }
  });
});

describe('entryMutation()', () => {
  it('gives the mutation an entry records: its op, keys and args', () => {
    expect(entryMutation(entry)).toEqual({
      op: 'zincrby',
      keys: ['leaderboard'],
      args: ['player-1', '2.5'],
    });
  });
});

describe('metaField and parseMetaField()', () => {
  it('name the running totals, and read the names back', () => {
    expect([metaField.applied, metaField.count('a:b'), metaField.sum('a:b')]).toEqual([
      'applied',
      'n:a:b',
      'sum:a:b',
    ]);
    expect(parseMetaField('n:a:b')).toEqual({ kind: 'count', name: 'a:b' });
    expect(parseMetaField('sum:')).toEqual({ kind: 'sum', name: '' });
    expect(parseMetaField('applied')).toEqual({ kind: 'applied' });
    expect(parseMetaField('other')).toBeUndefined();
    expect(metaStateNames(['applied', 'n:x', 'sum:x', 'n:y'], 'count')).toEqual(['x', 'y']);
    expect(metaStateNames(['applied', 'n:x', 'sum:x', 'n:y'], 'sum')).toEqual(['x']);
  });
});

describe('versionField()', () => {
  it('keeps (name, target) pairs apart by the byte length of the name', () => {
    expect(versionField('profile', 'name')).toBe('0007profilename');
    expect(versionField('é', 'x')).toBe('0002éx');
    expect(versionField('ab', 'c')).not.toBe(versionField('a', 'bc'));
  });
});

describe('decodeGapMember() and encodeGapMember()', () => {
  it('reads the field and the range of a gap ledger member', () => {
    const member = `0009s:player-${'0'.repeat(19)}2${'0'.repeat(19)}7`;
    expect(decodeGapMember(member)).toEqual({ field: 's:player-', first: 2n, last: 7n });
    expect(encodeGapMember({ field: 's:player-', first: 2n, last: 7n })).toBe(member);
  });

  it('reads seqs above 2^53 exactly and fields with any bytes', () => {
    const field = 's:{a}:é';
    const bytes = Buffer.byteLength(field);
    const member = Buffer.concat([
      Buffer.from(`${String(bytes).padStart(4, '0')}${field}`),
      Buffer.from('09223372036854775000'),
      Buffer.from('09223372036854775806'),
    ]);
    const gap = { field, first: 9223372036854775000n, last: 9223372036854775806n };
    expect(decodeGapMember(member)).toEqual(gap);
    expect(encodeGapMember(gap)).toBe(member.toString('utf8'));
  });

  it('refuses bytes that are not a gap member', () => {
    expect(() => decodeGapMember('0004s:ab12')).toThrow(TypeError);
  });
});

describe('scoreText() and parseScore()', () => {
  it('spell infinity as Redis prints it, and read both spellings ZADD takes', () => {
    expect(scoreText(Number.POSITIVE_INFINITY)).toBe('inf');
    expect(scoreText(Number.NEGATIVE_INFINITY)).toBe('-inf');
    expect(scoreText(0.30000000000000004)).toBe('0.30000000000000004');
    expect(parseScore('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseScore('+inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseScore('-inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseScore('1.5')).toBe(1.5);
  });
});
