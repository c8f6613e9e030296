/**
 * The TypeScript readers of what the Lua guard stores (lua/includes/gapLedger.lua).
 */
import { describe, expect, it } from 'vitest';
import { decodeGapMember } from '../../functions/shared/redis/layout.ts';

describe('decodeGapMember()', () => {
  it('reads the field and the range of a gap ledger member', () => {
    const member = `0009s:player-${'0'.repeat(19)}2${'0'.repeat(19)}7`;
    expect(decodeGapMember(member)).toEqual({ field: 's:player-', first: 2n, last: 7n });
  });

  it('reads seqs above 2^53 exactly and fields with any bytes', () => {
    const field = 's:{a}:é';
    const bytes = Buffer.byteLength(field);
    const member = Buffer.concat([
      Buffer.from(`${String(bytes).padStart(4, '0')}${field}`),
      Buffer.from('09223372036854775000'),
      Buffer.from('09223372036854775806'),
    ]);
    expect(decodeGapMember(member)).toEqual({
      field,
      first: 9223372036854775000n,
      last: 9223372036854775806n,
    });
  });

  it('refuses bytes that are not a gap member', () => {
    expect(() => decodeGapMember('0004s:ab12')).toThrow(TypeError);
  });
});
