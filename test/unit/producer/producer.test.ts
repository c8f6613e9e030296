import { describe, expect, it } from 'vitest';
import { parseJsonExact } from '../../../core/events/int64.ts';
import { isEnvelope, readEnvelope } from '../../../core/events/schema.ts';
import { defaultMutations } from '../../../core/mutations/builtins/index.ts';
import { toExactJson } from '../../../core/producer/producer.ts';

describe('toExactJson()', () => {
  it('writes bigints as exact JSON integers that the sink schema reads back', () => {
    // Prepare
    const envelope = {
      scope: 'wallet-9',
      seq: 9_007_199_254_740_993n,
      type: 'hincrby',
      data: { key: 'balances', field: 'wallet-9', delta: -700 },
    };
    // Act
    const json = toExactJson(envelope);
    // Assess
    expect(json).toContain('"seq":9007199254740993,');
    const parsed = parseJsonExact(json) as Record<string, unknown>;
    expect(isEnvelope(parsed, defaultMutations)).toBe(true);
    expect(readEnvelope(parsed, defaultMutations)).toMatchObject({ seq: '9007199254740993' });
  });
});
