import { describe, expect, it } from 'vitest';
import {
  type ColdStartMeasurement,
  type ColdStartSample,
  coldStartRatio,
  coldStartTable,
  emptyBaseline,
  figureOf,
  loadFigures,
  loadShares,
  localFunctionEnv,
  medianRange,
  powertoolsBaseline,
} from '../../../bench/cold-start.ts';

/** A cold start whose load is in the INIT REPORT and the first Duration, as on the emulator. */
const sample = (initMs: number, overheadMs = 30): ColdStartSample => ({
  spawnToResponseMs: initMs + overheadMs,
  reportInitMs: 0.03,
  initReportMs: initMs,
  firstDurationMs: initMs + 5,
  warmDurationMs: 2,
});

const row = (subject: string, bundleBytes: number, inits: number[]) => ({
  subject,
  bundleBytes,
  memoryMiB: 1_024,
  invocation: 'an MSK batch without records',
  samples: inits.map((ms) => sample(ms)),
});

const measurement: ColdStartMeasurement = {
  coldStarts: 3,
  rows: [
    row('apply-events', 2_208_582, [500, 450, 700]),
    row(emptyBaseline, 175, [50, 40, 60]),
    row(powertoolsBaseline, 38_221, [70, 75, 120]),
  ],
  correct: true,
  wrong: [],
};

describe('figureOf() and medianRange()', () => {
  it('give the median of a figure over the cold starts, with the lowest and the highest', () => {
    const apply = measurement.rows[0] as ColdStartMeasurement['rows'][number];
    expect(figureOf(apply, 'initReportMs')).toEqual({ median: 500, min: 450, max: 700 });
    expect(medianRange(apply, 'spawnToResponseMs')).toBe('530 (480–730)');
    expect(medianRange(apply, 'reportInitMs')).toBe('0.03 (0.03–0.03)');
    expect(medianRange({ ...apply, samples: [sample(42)] }, 'initReportMs')).toBe('42.0');
    expect(figureOf({ ...apply, samples: [] }, 'initReportMs').median).toBeNaN();
  });
});

describe('coldStartTable()', () => {
  it('gives a row per subject: its bundle, memory, invocation and every figure', () => {
    const table = coldStartTable(measurement).split('\n');
    expect(table[0]).toBe(
      '| subject | bundle bytes | memory | invoked with | spawn to first response, ms | REPORT Init Duration, ms | INIT REPORT, ms | first Duration, ms | warm Duration, ms |',
    );
    expect(table[2]).toBe(
      '| apply-events | 2,208,582 | 1,024 MiB | an MSK batch without records | 530 (480–730) | 0.03 (0.03–0.03) | 500 (450–700) | 505 (455–705) | 2.00 (2.00–2.00) |',
    );
    expect(table).toHaveLength(5);
  });
});

describe('coldStartRatio()', () => {
  it("is the median of the rounds' own ratios of spawn to first response, with their range", () => {
    const ratio = coldStartRatio(measurement, 'apply-events', powertoolsBaseline);
    // Rounds: 530 / 100, 480 / 105, 730 / 150.
    expect(ratio.median).toBeCloseTo(730 / 150);
    expect(ratio.min).toBeCloseTo(480 / 105);
    expect(ratio.max).toBeCloseTo(530 / 100);
  });

  it('is not a number when a subject was not measured', () => {
    expect(coldStartRatio(measurement, 'replay', powertoolsBaseline).median).toBeNaN();
  });
});

describe('loadShares() and loadFigures()', () => {
  it('are what a subject adds to each figure over the empty handler, and the figures holding it', () => {
    const shares = loadShares(measurement);
    expect(shares.spawnToResponseMs).toBe(450);
    expect(shares.initReportMs).toBe(450);
    expect(shares.firstDurationMs).toBe(450);
    expect(shares.reportInitMs).toBe(0);
    expect(loadFigures(measurement)).toEqual(['initReportMs', 'firstDurationMs']);
  });

  it('name no figure when the subject adds nothing', () => {
    expect(loadFigures(measurement, emptyBaseline)).toEqual([]);
    expect(loadFigures(measurement, 'replay')).toEqual([]);
  });
});

describe('localFunctionEnv()', () => {
  it("puts the bench's servers in place of the clusters, without the secret or MSK IAM", () => {
    const env = localFunctionEnv(
      {
        NODE_OPTIONS: '--enable-source-maps',
        REDIS_URL: 'rediss://localhost:6380',
        SEQGUARD_REDIS_CLUSTER: 'true',
        SEQGUARD_REDIS_AUTH_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:0:secret:x',
        SEQGUARD_KAFKA_BOOTSTRAP: 'localhost:9098',
        SEQGUARD_MSK_CLUSTER_ARN: 'arn:aws:kafka:us-east-1:0:cluster/x/y',
        SEQGUARD_TOPICS: 'events',
      },
      { redisUrl: 'redis://127.0.0.1:7000', kafkaBootstrap: '127.0.0.1:9092' },
      'cold',
    );
    expect(env).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      REDIS_URL: 'redis://127.0.0.1:7000',
      SEQGUARD_REDIS_CLUSTER: 'false',
      SEQGUARD_KAFKA_BOOTSTRAP: '127.0.0.1:9092',
      SEQGUARD_TOPICS: 'cold',
    });
  });
});
