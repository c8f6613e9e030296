/**
 * Kafka offsets and producer sequences are int64; a JS number holds integers exactly only up to
 * 2^53. They are carried as canonical decimal strings: digits only, no leading zeros.
 */

export const INT64_MAX = 9223372036854775807n;

const canonicalDigits = /^(0|[1-9][0-9]{0,18})$/;

/** The canonical decimal string of a non-negative int64, or null when value is not one. */
export function toUint63String(value: unknown): string | null {
  if (typeof value === 'bigint') {
    return value >= 0n && value <= INT64_MAX ? value.toString() : null;
  }
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? String(value) : null;
  }
  if (typeof value === 'string' && canonicalDigits.test(value)) {
    return BigInt(value) <= INT64_MAX ? value : null;
  }
  return null;
}

const longDigitRun = /\d{16}/;

/**
 * JSON.parse that keeps integers beyond 2^53 exact, as bigint, using the source text that
 * Node 22+ passes to revivers (TC39 "JSON.parse source text access").
 */
export function parseJsonExact(text: string): unknown {
  // A reviver slows JSON.parse several times over: only texts with a run of 16 or more digits
  // can hold an integer beyond 2^53, the others parse exactly without one.
  if (!longDigitRun.test(text)) return JSON.parse(text);
  return JSON.parse(
    text,
    function keepBigIntegers(_key: string, value: unknown, context?: { source?: string }) {
      if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) {
        const source = context?.source;
        if (source !== undefined && /^-?[0-9]+$/.test(source)) return BigInt(source);
      }
      return value;
    },
  );
}

/** The larger of two bigints (Math.max takes numbers only). */
export function maxBigInt(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
