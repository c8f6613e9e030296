/**
 * The fuzz targets (tools/fuzz/, docs/fuzzing.md) in-process, over their checked-in seed corpus
 * and every saved finding (tools/fuzz/regressions/<target>/), so that `npm test` keeps what
 * fuzzing found fixed. The guard's target needs Redis: test/integration/fuzz-guard.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FuzzFindingError } from '../../../tools/errors.ts';
import { expectThat, stringify } from '../../../tools/fuzz/bytes.ts';
import { checkedInInputs, fuzzTargets, loadTarget } from '../../../tools/fuzz/targets.ts';

describe.each(fuzzTargets.filter((target) => !target.redis))('fuzz target $name', ({ name }) => {
  it('has seeds', () => {
    expect(
      checkedInInputs(name).filter(([label]) => label.startsWith('corpus/')).length,
    ).toBeGreaterThan(0);
  });

  it.each(checkedInInputs(name))('passes %s', async (_label, path) => {
    await (await loadTarget(name))(readFileSync(path));
  });
});

describe('expectThat()', () => {
  it('names the property and what broke it, bigints and all', () => {
    expect(() => expectThat(false, 'a seq round-trips', { seq: 2n ** 63n })).toThrow(
      new FuzzFindingError('a seq round-trips: {"seq":"9223372036854775808n"}'),
    );
    expect(() => expectThat(true, 'holds')).not.toThrow();
  });

  it('compares objects whatever their key order', () => {
    expect(stringify({ b: 1, a: { d: 2, c: 3 } })).toBe(stringify({ a: { c: 3, d: 2 }, b: 1 }));
  });
});
