import { describe, expect, it } from 'vitest';
import { type LatencyPoint, readableTable } from '../../../bench/latency-curve.ts';

/** A point at 3,000 events/s that kept up, with or without produce-to-readable. */
function point(readable: LatencyPoint['readable']): LatencyPoint {
  const share = { p50: 1, p99: 2 };
  return {
    offeredPerSecond: 3_000,
    sentPerSecond: 2_999.4,
    events: 30_000,
    p50Ms: 9,
    p90Ms: 20,
    p99Ms: 31,
    maxMs: 60,
    maxLag: 300,
    lagGrowthPerSecond: 0,
    drainMs: 40,
    invocations: 2_000,
    recordsPerInvocation: 15,
    saturated: false,
    drained: true,
    correct: true,
    produce: share,
    waitForInvocation: share,
    invocationToVisible: share,
    cpu: { producerAndEmulator: 1, handler: 1, redis: 1, broker: 1 },
    ...(readable ? { readable } : {}),
  };
}

describe('readableTable()', () => {
  it('puts produce-to-readable beside produce-to-visible of the same point', () => {
    const table = readableTable(
      point({
        waits: 7_500,
        events: 29_990,
        p50Ms: 11,
        p99Ms: 38,
        maxMs: 64,
        afterAckP50Ms: 8,
        afterAckP99Ms: 24,
        failed: 0,
      }),
    ).split('\n');
    expect(table).toHaveLength(3);
    expect(table[2]).toBe(
      '| 3,000 | 2,999 | 29,990 | 7,500 | 9 / 31 ms | 11 / 38 ms | 64 ms | 8 / 24 ms | 0 | yes | yes |',
    );
  });

  it('says when the waits failed, or were not measured', () => {
    const failed = readableTable(
      point({
        waits: 10,
        events: 10,
        p50Ms: 11,
        p99Ms: 38,
        maxMs: 64,
        afterAckP50Ms: 8,
        afterAckP99Ms: 24,
        failed: 2,
        firstFailure: 'NotUpToBoundError: behind',
      }),
    );
    expect(failed).toContain('| 2 (NotUpToBoundError: behind) |');
    expect(readableTable(point(undefined))).toContain(
      '| n/a / n/a ms | n/a ms | n/a / n/a ms | not measured |',
    );
  });
});
