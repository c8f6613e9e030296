import { describe, expect, it } from 'vitest';
import {
  expectedOf,
  type MutationMeasurement,
  mutationTable,
  mutationWorkloads,
} from '../../../bench/mutation-throughput.ts';
import { defaultMutations } from '../../../core/index.ts';

describe('mutationWorkloads()', () => {
  const workloads = mutationWorkloads(2_000);

  it('has one workload per built-in mutation, in registration order, of its own events', () => {
    expect(workloads.map((w) => w.mutation)).toEqual(defaultMutations.names);
    for (const w of workloads) {
      expect(w.events).toHaveLength(2_000);
      expect(new Set(w.events.map((e) => e.mutation.op))).toEqual(new Set([w.mutation]));
    }
  });

  it('refuses part of the payouts, and only the payouts', () => {
    const refused = (name: string) => {
      const w = workloads.find((x) => x.mutation === name);
      if (w === undefined) throw new Error(`no workload ${name}`);
      return expectedOf(w).refused;
    };
    for (const name of ['debit', 'transfer']) {
      expect(refused(name)).toBeGreaterThan(2_000 * 0.05);
      expect(refused(name)).toBeLessThan(2_000 * 0.5);
    }
    for (const name of defaultMutations.names.filter((n) => n !== 'debit' && n !== 'transfer')) {
      expect(refused(name)).toBe(0);
    }
  });

  it('records every event of a workload in the stream, the seed events too', () => {
    const srem = workloads.find((w) => w.mutation === 'srem');
    if (srem === undefined) throw new Error('no srem workload');
    expect(srem.setup.length).toBeGreaterThan(0);
    expect(expectedOf(srem).entries).toBe(srem.setup.length + srem.events.length);
  });
});

describe('mutationTable()', () => {
  const row = (mutation: string, ratio: number, correct = true): MutationMeasurement => ({
    mutation,
    events: 100_000,
    refused: 0,
    guardedPerSecond: 150_000 * ratio,
    ceilingPerSecond: 150_000,
    ratio,
    ratios: [ratio - 0.02, ratio, ratio + 0.03],
    correct,
  });

  it("gives each mutation its rates, its ratio with the rounds' range, and the target", () => {
    const table = mutationTable([row('zincrby', 0.9), row('sadd', 0.8, false)], 0.85).split('\n');
    expect(table[0]).toBe(
      '| mutation | events | refused | guarded events/s | ceiling events/s | guarded / ceiling | >= 0.85x | correct |',
    );
    expect(table[2]).toBe(
      '| zincrby | 100,000 | 0 | 135,000 | 150,000 | 0.90x (0.88 to 0.93) | yes | yes |',
    );
    expect(table[3]).toBe(
      '| sadd | 100,000 | 0 | 120,000 | 150,000 | 0.80x (0.78 to 0.83) | NO | NO |',
    );
  });
});
