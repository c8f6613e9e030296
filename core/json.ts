/**
 * Results as plain JSON data, for a Lambda's return value and the CLI's output: offsets and
 * seqs are bigints, which JSON.stringify refuses, so they go out as decimal strings.
 */
export function toPlainJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v)));
}
