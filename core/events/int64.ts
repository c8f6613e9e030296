/**
 * Kafka offsets and producer sequences are int64; a JS number holds integers exactly only up to
 * 2^53. They are carried as canonical decimal strings: digits only, no leading zeros. Integer
 * identifiers (scope, member, field...) have no size limit but are carried the same way.
 */

export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -INT64_MAX - 1n;

const canonicalDigits = /^(0|[1-9][0-9]{0,18})$/;
/** Redis's own integer text (util.c string2ll): no sign on 0, no leading zeros, no `+`. */
const canonicalSigned = /^(0|-?[1-9][0-9]{0,18})$/;
/** What an event may write as an int64 delta: `-0` is accepted and read as 0. */
const signedDigits = /^-?(0|[1-9][0-9]{0,18})$/;

/** Whether a bigint is within int64. */
export function isInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/**
 * The int64 that a stored text holds as HINCRBY reads it (strict: the canonical decimal text of
 * an int64, as Redis writes it), or undefined when HINCRBY would refuse it.
 */
export function parseInt64(text: string): bigint | undefined {
  if (!canonicalSigned.test(text)) return undefined;
  const value = BigInt(text);
  return isInt64(value) ? value : undefined;
}

/**
 * The canonical decimal string of an int64 given as a safe integer, a bigint or digits (an
 * event's counter delta), or null when value is not one.
 */
export function toInt64String(value: unknown): string | null {
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === 'string' && signedDigits.test(value)) n = BigInt(value);
  else return null;
  return isInt64(n) ? n.toString() : null;
}

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

/**
 * The exact decimal text of a JSON integer as parseJsonExact returns it, or null when the value
 * is not one exactly: a bigint is exact; a number is exact only as a safe integer (beyond 2^53
 * it is a double that no longer names one integer). `-0` is 0.
 */
export function toIntegerString(value: number | bigint): string | null {
  if (typeof value === 'bigint') return value.toString();
  return Number.isSafeInteger(value) ? String(value) : null;
}

const longDigitRun = /\d{16}/;

/**
 * JSON.parse that keeps integers beyond 2^53 exact, as bigint, using the source text that
 * Node 22+ passes to revivers (TC39 "JSON.parse source text access"). Only integers written in
 * plain digits become bigint, however long (even those a double rounds to Infinity); a number
 * with a fraction or an exponent stays a number.
 */
export function parseJsonExact(text: string): unknown {
  // A reviver slows JSON.parse several times over: only texts with a run of 16 or more digits
  // can hold a plain-digit integer beyond 2^53 (2^53 itself has 16 digits), the others parse
  // exactly without one.
  if (!longDigitRun.test(text)) return JSON.parse(text);
  return JSON.parse(
    text,
    function keepBigIntegers(_key: string, value: unknown, context?: { source?: string }) {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) {
        const source = context?.source;
        if (source !== undefined && /^-?[0-9]+$/.test(source)) return BigInt(source);
      }
      return value;
    },
  );
}

/** The smaller of two bigints (Math.min takes numbers only). */
export function minBigInt(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** The larger of two bigints (Math.max takes numbers only). */
export function maxBigInt(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
