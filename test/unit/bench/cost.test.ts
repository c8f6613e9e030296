import { describe, expect, it } from 'vitest';
import {
  type CostInputs,
  costPerMillionEvents,
  costTable,
  type EventWork,
  ecpuPerEvent,
  medianWork,
  workPerEvent,
} from '../../../bench/cost.ts';

const inputs: CostInputs = {
  asOf: 'test',
  region: 'test-region',
  engine: 'test-engine',
  node: {
    type: 'cache.test',
    hourlyUsd: 0.36,
    source: 'test',
    nodesPerShard: 2,
    targetUtilization: 0.8,
  },
  serverless: { usdPerMillionEcpu: 0.0025, source: 'test', microsPerEcpu: 2 },
};

const plain = (requests: number, clientBytes: number): EventWork => ({
  requests,
  scriptCalls: 0,
  scriptMicros: 0,
  clientBytes,
});

describe('workPerEvent()', () => {
  it('divides the counters the run moved by its events', () => {
    const before = { scriptCalls: 10, scriptMicros: 1_000, clientBytes: 5_000 };
    const after = { scriptCalls: 14, scriptMicros: 9_000, clientBytes: 205_000 };

    expect(workPerEvent(before, after, 4, 2_000)).toEqual({
      requests: 0.002,
      scriptCalls: 0.002,
      scriptMicros: 4,
      clientBytes: 100,
    });
  });
});

describe('medianWork()', () => {
  it('takes the median of each field over the rounds', () => {
    expect(medianWork([plain(3, 900), plain(5, 100), plain(4, 500)])).toEqual(plain(4, 500));
  });
});

describe('ecpuPerEvent()', () => {
  it('counts a request of up to 1 KB as one ECPU', () => {
    expect(ecpuPerEvent(plain(4, 400), 2)).toBe(4);
  });

  it('counts a larger request by its kilobytes', () => {
    expect(ecpuPerEvent(plain(4, 4 * 2_048), 2)).toBe(8);
  });

  it('counts a script call by its engine time, one ECPU per 2 µs', () => {
    // One EVALSHA of 500 events that ran 2 ms and moved 50 KB: 1,000 ECPUs, 2 per event.
    const work = { requests: 0.002, scriptCalls: 0.002, scriptMicros: 4, clientBytes: 100 };

    expect(ecpuPerEvent(work, 2)).toBeCloseTo(2, 10);
  });

  it('counts a script call by its kilobytes when they outweigh its time', () => {
    const work = { requests: 0.002, scriptCalls: 0.002, scriptMicros: 0.2, clientBytes: 1_024 };

    // 512 KB per call against 50 ECPUs of time.
    expect(ecpuPerEvent(work, 2)).toBeCloseTo(1, 10);
  });

  it('counts a short script as one ECPU, and adds the plain requests beside it', () => {
    // The seed's design: a check-and-set EVAL of 1.8 µs, then ZINCRBY and XADD.
    expect(
      ecpuPerEvent({ requests: 3, scriptCalls: 1, scriptMicros: 1.8, clientBytes: 500 }, 2),
    ).toBe(3);
    expect(
      ecpuPerEvent({ requests: 3, scriptCalls: 1, scriptMicros: 5, clientBytes: 500 }, 2),
    ).toBe(4.5);
  });

  it('is zero for a design that sent nothing', () => {
    expect(ecpuPerEvent(plain(0, 0), 2)).toBe(0);
  });
});

describe('costPerMillionEvents()', () => {
  it('prices node time for every node of the shard, at the target utilization', () => {
    // 4 CPU-seconds per million at 80%: 5 s of a shard of 2 nodes at $0.36/h = $0.001.
    const cost = costPerMillionEvents('d', 4, plain(4, 400), inputs);

    expect(cost.eventsPerSecondPerShard).toBeCloseTo(200_000, 6);
    expect(cost.nodeUsdPerMillion).toBeCloseTo(0.001, 12);
  });

  it('prices ECPUs per million events at the price per million ECPUs', () => {
    const cost = costPerMillionEvents('d', 4, plain(4, 400), inputs);

    expect(cost.ecpuPerEvent).toBe(4);
    expect(cost.serverlessUsdPerMillion).toBeCloseTo(0.01, 12);
  });
});

describe('costTable()', () => {
  it('compares every row with the first and states its inputs', () => {
    const rows = [
      costPerMillionEvents('cheap', 4, plain(2, 200), inputs),
      costPerMillionEvents('dear', 40, plain(4, 400), inputs),
    ];

    const table = costTable(rows, inputs);

    expect(table).toContain('| cheap | 200,000 | $0.0010 (1.0x) | 2.00 | $0.0050 (1.0x) |');
    expect(table).toContain('| dear | 20,000 | $0.010 (10.0x) | 4.00 | $0.010 (2.0x) |');
    expect(table).toContain('cache.test at $0.36 per node-hour');
    expect(table).toContain('$0.0025 per million ECPUs');
  });
});
