/**
 * A soak report's data for tests: two minutes of points (with a broker restart's backlog),
 * faults of several kinds, alarms.
 */
import type { ReportData } from '../../local/soak/report.ts';

export function sampleReport(): ReportData {
  return {
    title: 'seqguard soak, single Redis, seed 7',
    startedAt: '2026-11-30T00:00:00.000Z',
    verdict: [
      ['LOST', '0', true],
      ['DUPLICATED', '0', true],
      ['dead letters', '<script>alert(1)</script>', true],
    ],
    summary: [['seed', '7']],
    series: Array.from({ length: 120 }, (_, i) => ({
      t: i * 1000,
      appliedPerSecond: 900 + (i % 7) * 20,
      publishedPerSecond: 1000,
      // The broker restart (70 s to 85 s) holds records back: lag and p99 reach five digits, as
      // in a real soak, so the axes must show labels like 10,000 in full.
      consumerLag: i === 50 ? null : i >= 70 && i < 85 ? 1_500 * (i - 69) : (i * 37) % 900,
      p50Ms: 40 + (i % 5),
      p99Ms: i === 60 ? null : i >= 75 && i < 88 ? 1_000 * (i - 74) : 300 + (i % 11) * 10,
      readableP50Ms: 45 + (i % 5),
      readableP99Ms: i >= 75 && i < 88 ? 1_200 * (i - 74) : 320 + (i % 11) * 10,
      alarmsFiring: i > 40 && i < 55 ? 2 : 0,
    })),
    faults: [
      { at: 10_000, kind: 'sinkKill', label: 'sink SIGKILLed', detail: 'armed at afterGuard' },
      { at: 40_000, endAt: 44_000, kind: 'redisFreeze', label: 'frozen', detail: '4000 ms' },
      {
        at: 70_000,
        endAt: 85_000,
        kind: 'brokerRestart',
        label: 'broker',
        detail: 'back after 15 s',
      },
    ],
    alarms: [
      { at: 41_000, alarm: 'RedisBehindKafka', to: 'ALARM', value: 120 },
      { at: 55_000, alarm: 'RedisBehindKafka', to: 'OK', value: 0 },
    ],
    ok: true,
  };
}
