import { describe, expect, it } from 'vitest';
import { type ReadableSample, readableFigures } from '../../../bench/produce-to-readable.ts';

describe('readableFigures()', () => {
  const samples: ReadableSample[] = [
    // A warm-up send: not measured.
    { due: [900, 950], ackedAt: 960, readableAt: 980 },
    // A send of three events, one due before the measured window.
    { due: [995, 1_000, 1_004], ackedAt: 1_010, readableAt: 1_020 },
    { due: [1_010], ackedAt: 1_015, readableAt: 1_050 },
    { due: [1_020], ackedAt: 1_025, failed: 'NotUpToBoundError: behind' },
    { due: [1_030], ackedAt: 1_031, failed: 'NotUpToBoundError: still behind' },
  ];

  it("counts each measured event from when it was due to when its send's wait resolved", () => {
    const figures = readableFigures(samples, 1_000);
    expect(figures).toMatchObject({ waits: 2, events: 3, p50Ms: 20, p99Ms: 40, maxMs: 40 });
    // Per send, acknowledged to readable: 10 and 35 ms.
    expect(figures.afterAckP50Ms).toBe(35);
    expect(figures.afterAckP99Ms).toBe(35);
  });

  it('counts every failed wait, and keeps the first reason', () => {
    const figures = readableFigures(samples, 1_000);
    expect(figures.failed).toBe(2);
    expect(figures.firstFailure).toBe('NotUpToBoundError: behind');
    expect(readableFigures(samples.slice(0, 3), 1_000)).not.toHaveProperty('firstFailure');
  });

  it('gives no latency when nothing was measured', () => {
    const figures = readableFigures([], 0);
    expect(figures).toMatchObject({ waits: 0, events: 0, failed: 0 });
    expect(figures.p99Ms).toBeNaN();
    expect(figures.maxMs).toBeNaN();
  });
});
