/** A latency curve as bench/latency-curve.ts measures it, for the page's tests. */
import type { LatencyPoint } from '../../bench/latency-curve.ts';
import type { LatencyPageData } from '../../bench/latency-report.ts';

function point(rate: number, p99: number, saturated = false): LatencyPoint {
  return {
    offeredPerSecond: rate,
    sentPerSecond: rate,
    events: rate * 10,
    p50Ms: p99 / 4,
    p90Ms: p99 / 2,
    p99Ms: p99,
    maxMs: p99 * 1.5,
    maxLag: rate / 10,
    lagGrowthPerSecond: saturated ? rate / 5 : 0,
    drainMs: 20,
    invocations: 1_000,
    recordsPerInvocation: rate / 100,
    saturated,
    drained: true,
    correct: true,
    produce: { p50: 0, p99: p99 / 5 },
    waitForInvocation: { p50: p99 / 8, p99: p99 / 2 },
    invocationToVisible: { p50: 1, p99: p99 / 4 },
    cpu: { producerAndEmulator: 50, handler: 40, redis: 15, broker: 150 },
  };
}

export function sampleLatencyPage(): LatencyPageData {
  return {
    title: 'seqguard <script>alert(1)</script> latency',
    run: '2 cores (test CPU), Node v24.0.0; 2026-01-01T00:00:00.000Z',
    setup: 'Batching window 0 (low-latency mode), batch size up to 100.',
    points: [point(500, 12), point(1_000, 15), point(3_000, 40), point(5_000, 900, true)],
    references: [
      { label: 'AWS: under 100 ms', ms: 100 },
      { label: "the seed's 28 ms", ms: 28 },
    ],
  };
}
