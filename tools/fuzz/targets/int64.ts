/**
 * Fuzz target `int64`: the exact-integer helpers against BigInt's own semantics. The bytes are a
 * choice, an int64 and a text:
 * - `parseInt64(text)` holds exactly the texts Redis's HINCRBY reads (canonical digits with an
 *   optional `-`, no `-0`, no leading zeros, within int64), their value, and `String()` of it
 *   gives the text back;
 * - `parseInt64(String(n))` is n for every int64 n;
 * - `parseJsonExact(text)` parses exactly what JSON.parse does, to the same value, except that
 *   integers written in plain digits beyond 2^53 are bigint, exact.
 */
import { INT64_MAX, INT64_MIN, isInt64, parseInt64, parseJsonExact } from '../../../core/index.ts';
import { ByteReader, ByteWriter, expectThat, stringify } from '../bytes.ts';

const redisInteger = /^(0|-?[1-9][0-9]*)$/;

export function writeInput(n: bigint, text: string): Buffer {
  return new ByteWriter().int64(n).raw(text).toBuffer();
}

/** The value JSON.parse would give for a parseJsonExact result: bigints as doubles. */
function asDoubles(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(asDoubles);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asDoubles(v)]));
  }
  return value;
}

function bigintsOf(value: unknown): bigint[] {
  if (typeof value === 'bigint') return [value];
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(bigintsOf);
  return [];
}

function checkParseInt64(text: string): void {
  const expected = redisInteger.test(text) && isInt64(BigInt(text)) ? BigInt(text) : undefined;
  const actual = parseInt64(text);
  expectThat(actual === expected, 'parseInt64 reads what HINCRBY reads', {
    text,
    expected,
    actual,
  });
  if (actual !== undefined) expectThat(String(actual) === text, 'parseInt64 round-trips', text);
}

function checkParseJsonExact(text: string): void {
  let expected: unknown;
  let expectedError = false;
  try {
    expected = JSON.parse(text);
  } catch {
    expectedError = true;
  }
  let actual: unknown;
  try {
    actual = parseJsonExact(text);
  } catch (error) {
    expectThat(expectedError, 'parseJsonExact parses what JSON.parse parses', {
      text,
      error: String(error),
    });
    return;
  }
  expectThat(!expectedError, 'parseJsonExact refuses what JSON.parse refuses', text);
  expectThat(
    stringify(asDoubles(actual)) === stringify(expected),
    "parseJsonExact gives JSON.parse's values, bigints aside",
    { text, actual, expected },
  );
  for (const big of bigintsOf(actual)) {
    expectThat(
      big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER),
      'only integers beyond 2^53 become bigint',
      { text, big },
    );
  }
}

export function fuzz(data: Uint8Array): void {
  const input = new ByteReader(data);
  const n = input.int64();
  expectThat(
    n >= INT64_MIN && n <= INT64_MAX && parseInt64(String(n)) === n,
    'every int64 parses back',
    n,
  );
  const text = input.rest().toString('utf8');
  checkParseInt64(text);
  checkParseJsonExact(text);
}
