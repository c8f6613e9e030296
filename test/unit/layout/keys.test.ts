import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cursorField,
  deadLetterKeys,
  keyPatterns,
  parseShardKey,
  producerSeqKey,
  rebuildKey,
  rebuildVersionsKey,
  type ShardKeyKind,
  shardKeyPattern,
  shardKeys,
  shardRegistryKey,
  stateKey,
} from '../../../core/layout/keys.ts';

/** The hash tag Redis Cluster hashes: between the first `{` and the next `}`. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return key.slice(open + 1, close);
}

describe('shardKeys() and stateKey()', () => {
  it('give every key of a shard the same hash tag, whatever the names hold', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, unit: 'grapheme' }),
        fc.string({ minLength: 1, unit: 'grapheme' }),
        (shard, name) => {
          const tags = [...Object.values(shardKeys(shard)), stateKey(shard, name)].map(hashTag);
          expect(new Set(tags).size).toBe(1);
          expect(tags[0]).toBe(`sg:${encodeURIComponent(shard)}`);
        },
      ),
    );
  });

  it('never build the same key for two different (shard, name) pairs', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.string({ minLength: 1 }), fc.string({ minLength: 1 })),
        fc.tuple(fc.string({ minLength: 1 }), fc.string({ minLength: 1 })),
        ([shardA, nameA], [shardB, nameB]) => {
          fc.pre(shardA !== shardB || nameA !== nameB);
          fc.pre([shardA, nameA, shardB, nameB].every((s) => s.isWellFormed()));
          expect(stateKey(shardA, nameA)).not.toBe(stateKey(shardB, nameB));
          expect(shardKeys(shardA).cursors === shardKeys(shardB).cursors).toBe(shardA === shardB);
        },
      ),
    );
  });

  it('keeps hash-tag characters of names out of the tag', () => {
    expect(shardKeys('a}b{c:d').cursors).toBe('{sg:a%7Db%7Bc%3Ad}:cursors');
    expect(stateKey('s', 'x:y')).toBe('{sg:s}:state:x%3Ay');
    expect(shardKeys('s', 'tenant1').meta).toBe('{tenant1:s}:meta');
  });

  it('rejects names that are not well-formed Unicode', () => {
    expect(() => shardKeys('\uD800')).toThrow(TypeError);
  });
});

describe('deadLetterKeys()', () => {
  it('uses a tag that no shard can produce', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (shard) => {
        fc.pre(shard.isWellFormed());
        expect(hashTag(shardKeys(shard).stream)).not.toBe(hashTag(deadLetterKeys().stream));
      }),
    );
    expect(hashTag(deadLetterKeys().stream)).toBe(hashTag(deadLetterKeys().offsets));
  });
});

describe('cursorField()', () => {
  it('keeps sequence scopes and offset cursors apart', () => {
    const record = { topic: 'orders', partition: 3 };
    expect(cursorField({ scope: 'orders-3' }, record)).toBe('s:orders-3');
    expect(cursorField(null, record)).toBe('o:orders-3');
  });
});

describe('producerSeqKey()', () => {
  it('gives every scope a hash tag of its own that its characters cannot end', () => {
    // Act
    const key = producerSeqKey('a}b:{c%', 'sg');
    // Assess
    expect(key).toBe('{sg~seq:a%7Db%3A%7Bc%25}');
  });
});

describe('keyPatterns()', () => {
  /** A Redis glob of the form `<literal>*`, as keyPatterns() builds them, tested on a key. */
  const matches = (pattern: string, key: string) => key.startsWith(pattern.slice(0, -1));

  it('covers every key built for a prefix, and none built for another prefix', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (shard, name) => {
        fc.pre(shard.isWellFormed() && name.isWellFormed());
        const keysOf = (prefix: string) => [
          ...Object.values(shardKeys(shard, prefix)),
          stateKey(shard, name, prefix),
          rebuildKey(shard, name, 't', prefix),
          rebuildVersionsKey(shard, name, 't', prefix),
          shardRegistryKey(prefix),
          ...Object.values(deadLetterKeys(prefix)),
          producerSeqKey(name, prefix),
        ];
        for (const key of keysOf('sg')) {
          expect(keyPatterns('sg').some((p) => matches(p, key))).toBe(true);
        }
        for (const key of keysOf('sg2')) {
          expect(keyPatterns('sg').some((p) => matches(p, key))).toBe(false);
        }
      }),
    );
  });
});

describe('parseShardKey()', () => {
  it('gives back the shard and kind of every key shardKeys() builds', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.constantFrom('sg', 'tenant-1'),
        (shard, prefix) => {
          fc.pre(shard.isWellFormed());
          for (const [kind, key] of Object.entries(shardKeys(shard, prefix))) {
            expect(parseShardKey(key, prefix)).toEqual({ shard, kind: kind as ShardKeyKind });
          }
        },
      ),
    );
  });

  it('refuses state keys, keys of another prefix and keys that shardKeys() cannot build', () => {
    expect(parseShardKey(stateKey('s', 'board'))).toBeUndefined();
    expect(parseShardKey(shardKeys('s', 'other').offsets)).toBeUndefined();
    expect(parseShardKey(shardRegistryKey())).toBeUndefined();
    expect(parseShardKey('{sg:a:b}:offsets')).toBeUndefined();
    expect(parseShardKey('{sg:%E0%A4%A}:offsets')).toBeUndefined();
    expect(parseShardKey('{sg:s}:offsets:x')).toBeUndefined();
  });
});

describe('shardKeyPattern()', () => {
  /** Redis's glob with `*` as its only special character, as shardKeyPattern() builds them. */
  const matches = (pattern: string, key: string) =>
    new RegExp(
      `^${pattern
        .split('*')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
      's',
    ).test(key);

  it("matches one kind of every shard's keys, and no other key", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (shard) => {
        fc.pre(shard.isWellFormed());
        expect(matches(shardKeyPattern('offsets'), shardKeys(shard).offsets)).toBe(true);
        expect(matches(shardKeyPattern('offsets'), shardKeys(shard).cursors)).toBe(false);
        expect(matches(shardKeyPattern('offsets'), shardKeys(shard, 'sg2').offsets)).toBe(false);
      }),
    );
  });
});
