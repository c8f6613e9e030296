import { describe, expect, it } from 'vitest';
import {
  INT64_MAX,
  INT64_MIN,
  isInt64,
  parseInt64,
  parseJsonExact,
  toInt64String,
  toIntegerString,
  toUint63String,
} from '../../../core/events/int64.ts';

describe('toUint63String()', () => {
  it('accepts non-negative int64 values in every form and returns canonical digits', () => {
    expect(toUint63String(0)).toBe('0');
    expect(toUint63String(42)).toBe('42');
    expect(toUint63String('9223372036854775807')).toBe('9223372036854775807');
    expect(toUint63String(9007199254740993n)).toBe('9007199254740993');
  });

  it('rejects what is not a canonical non-negative int64', () => {
    for (const bad of [
      -1,
      1.5,
      2 ** 53,
      '007',
      '-3',
      '1e3',
      ' 1',
      '',
      '9223372036854775808',
      -1n,
      null,
      true,
    ]) {
      expect(toUint63String(bad), String(bad)).toBeNull();
    }
  });
});

describe('toIntegerString()', () => {
  it('gives the decimal text of a bigint of any size and of a safe integer, -0 as 0', () => {
    expect(toIntegerString(-123456789012345678901234567890n)).toBe(
      '-123456789012345678901234567890',
    );
    expect(toIntegerString(9007199254740991)).toBe('9007199254740991');
    expect(toIntegerString(-42)).toBe('-42');
    expect(toIntegerString(-0)).toBe('0');
  });

  it('refuses numbers that are not one integer exactly', () => {
    for (const bad of [1.5, 2 ** 53, 1e20, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(toIntegerString(bad), String(bad)).toBeNull();
    }
  });
});

describe('parseJsonExact()', () => {
  it('keeps integers above 2^53 exact as bigint', () => {
    const parsed = parseJsonExact('{"seq": 9007199254740993, "small": 5, "float": 1.5}') as Record<
      string,
      unknown
    >;
    expect(parsed.seq).toBe(9007199254740993n);
    expect(parsed.small).toBe(5);
    expect(parsed.float).toBe(1.5);
  });

  it('keeps plain-digit integers too long for a double exact, negative too', () => {
    const digits = `-1${'0'.repeat(400)}`;
    const parsed = parseJsonExact(`{"member": ${digits}}`) as Record<string, unknown>;
    expect(parsed.member).toBe(BigInt(digits));
  });

  it('leaves huge numbers in exponent form as numbers, for the schema to reject', () => {
    const parsed = parseJsonExact('{"seq": 1e20}') as Record<string, unknown>;
    expect(parsed.seq).toBe(1e20);
  });

  it('throws on invalid JSON', () => {
    expect(() => parseJsonExact('{"seq": ')).toThrow(SyntaxError);
  });
});

describe('parseInt64()', () => {
  it('reads what HINCRBY reads: the canonical text of an int64', () => {
    expect(parseInt64('0')).toBe(0n);
    expect(parseInt64('-9223372036854775808')).toBe(INT64_MIN);
    expect(parseInt64('9223372036854775807')).toBe(INT64_MAX);
    for (const bad of ['-0', '007', '+1', '1.0', '1e3', ' 1', '', '9223372036854775808', 'abc']) {
      expect(parseInt64(bad), bad).toBeUndefined();
    }
  });
});

describe('toInt64String()', () => {
  it('gives the canonical text of an int64 in any form an event may write it', () => {
    expect(toInt64String(-42)).toBe('-42');
    expect(toInt64String('-0')).toBe('0');
    expect(toInt64String(-9223372036854775808n)).toBe('-9223372036854775808');
    for (const bad of [1.5, 2 ** 53, '007', '1e3', '9223372036854775808', 2n ** 63n, null]) {
      expect(toInt64String(bad), String(bad)).toBeNull();
    }
  });
});

describe('isInt64()', () => {
  it('bounds bigints to int64', () => {
    expect([INT64_MIN, INT64_MAX, INT64_MIN - 1n, INT64_MAX + 1n].map(isInt64)).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});
