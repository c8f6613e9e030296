/**
 * The demo's report (local/demo/main.ts): what a run observed (the Watch its steps fill in) and
 * measured, as the lines it ends with. Pure: lines out, printed by the demo.
 */
import type { Position, RankedMember } from '../../core/index.ts';
import type { EsmActivity, EsmStats } from '../emulators/lambda/event-source-mapping.ts';
import type { SandboxSummary } from '../emulators/pipeline.ts';
import { functionRows } from '../scenario/function-rows.ts';
import type { StreamOutcomes } from '../scenario/stream-outcomes.ts';
import { type Model, opCounts, refusedCount } from '../scenario/traffic-model.ts';
import type { Verdict } from '../scenario/verdict.ts';

/** What the demo watches while the pipeline runs, filled in by its steps (local/demo/main.ts). */
export interface Watch {
  /** The functions' own counts, from their structured log line per batch. */
  handlerCounts: {
    applied: number;
    duplicates: number;
    refused: number;
    deadLettered: number;
    late: number;
    gapsOpened: number;
  };
  /** The function's last error, to say why a pipeline stalls. */
  lastFunctionError: string;
  activity: EsmActivity[];
  /** When each successful invocation started and ended, to measure recovery after a crash. */
  successTimes: { start: number; end: number }[];
  /** When each kill that reached a busy sandbox was sent. */
  kills: number[];
  /** End offset per partition, as published. */
  produced: Map<string, bigint>;
  /** Where the events published so far were written: the bound of the read at the end. */
  position: Position;
  publishedRecords: number;
  maxLag: number;
}

/** What the demo measured once the pipeline caught up (local/demo/main.ts, `measure`). */
export interface Measurements {
  verdict: Verdict;
  /** What the shard's delta stream records of each op. */
  stream: StreamOutcomes;
  deadLettered: number;
  latency: { p50: number; p99: number; entries: number };
  replayMs: number;
  replayedEntries: number;
  /** The read at the last position published (docs/reading.md). */
  readAt:
    | { token: string; partitions: number; answered: true; waitedMs: number; top: RankedMember[] }
    | { token: string; partitions: number; answered: false; why: string };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The wallet's figures the table shows, model against Redis: [row, op, refusal reason or none]. */
const walletRows: [string, string, string | undefined][] = [
  ['debits applied', 'debit', undefined],
  ['debits refused (insufficient)', 'debit', 'insufficient'],
  ['transfers applied', 'transfer', undefined],
  ['transfers refused (insufficient)', 'transfer', 'insufficient'],
];

/**
 * The wallet's rows, model / Redis: Redis's count from the delta stream, which speaks for every
 * event while it holds them all (one entry per event applied or refused); `match` when it does
 * and every figure agrees, or when it does not (the verdict, from the state, still decides).
 */
export function walletFigures(
  model: Model,
  stream: StreamOutcomes,
): { rows: [string, string][]; whole: boolean; match: boolean } {
  const whole = stream.entries === model.unique;
  let match = true;
  const rows = walletRows.map(([label, op, reason]): [string, string] => {
    const count = (counts: { applied: number; refused: Map<string, number> } | undefined) =>
      reason === undefined ? (counts?.applied ?? 0) : (counts?.refused.get(reason) ?? 0);
    const expected = count(opCounts(model, op));
    const held = count(stream.byOp.get(op));
    if (whole && held !== expected) match = false;
    return [
      `${label}, model / Redis`,
      whole
        ? `${expected} / ${held}`
        : `${expected} / ? (the stream keeps ${stream.entries} of ${model.unique} entries)`,
    ];
  });
  return { rows, whole, match };
}

/** What the report is made from. */
export interface DemoReportInput {
  watch: Watch;
  /** performance.now() when the demo started. */
  started: number;
  /** How the connections to Kafka and to Redis are secured. */
  security: { kafka: string; redis: string };
  model: Model;
  stats: EsmStats;
  measured: Measurements;
  json: boolean;
  /** The kills asked for (--kills). */
  kills: number;
  /** What ran the function, and the durations its runtime reported. */
  runtime: SandboxSummary;
}

/**
 * The report's lines: with `json`, first a line `RESULT {…}` with the measurements (for bench/),
 * then the table, then the verdict; ok when Redis holds exactly the unique events (refusals
 * included), the wallet's figures agree (when the stream holds every event), every malformed
 * record is dead-lettered, and a kill hit a batch (when kills were asked for).
 */
export function demoReport(input: DemoReportInput): { lines: string[]; ok: boolean } {
  const { watch, started, security, model, stats, measured, json, runtime } = input;
  const killsAsked = input.kills;
  const lines: string[] = [];
  const say = (line: string) => lines.push(line);
  const { verdict, stream, deadLettered, latency, replayMs, replayedEntries, readAt } = measured;
  const { handlerCounts, kills, successTimes, maxLag } = watch;
  const leaderboardEvents = opCounts(model, 'zincrby').applied;
  const wallet = walletFigures(model, stream);
  const killsHit = watch.activity.filter(
    (a) => a.kind === 'invoked' && a.outcome === 'functionError' && /SIGKILL/.test(a.detail ?? ''),
  ).length;
  const rows: [string, string][] = [
    ['kafka: producer, event source mapping, function', security.kafka],
    ['redis: function, demo', security.redis],
    [
      'events produced (unique)',
      `${model.unique} (${leaderboardEvents} to the leaderboard in the seed format, ${model.unique - leaderboardEvents} to the wallets in the envelope format)`,
    ],
    [
      'records published',
      `${model.records} (${model.resends} producer resends, ${model.late} sent late, ${model.malformed} malformed)`,
    ],
    ["events applied (the guard's count)", String(verdict.applied)],
    [
      'events refused by their mutation (by the state)',
      `${verdict.refused} (model: ${refusedCount(model)})`,
    ],
    ...wallet.rows,
    ['wallet balances that are wrong', String(verdict.wrongEntries)],
    [
      'duplicates skipped by the guard',
      `${handlerCounts.duplicates} (${model.resends} producer resends, ${handlerCounts.duplicates - model.resends} redelivered after a crash)`,
    ],
    ['late events applied into gaps', String(handlerCounts.late)],
    ['dead-lettered', `${deadLettered} (malformed records published: ${model.malformed})`],
    ['open sequence gaps', String(verdict.openGaps)],
    ['LOST', String(verdict.lost)],
    ['DUPLICATED', String(verdict.duplicated)],
    ['players whose score is wrong', String(verdict.wrongScores)],
    ['running totals match the model', verdict.totalsMatch ? 'yes' : 'NO'],
    ['handler kills sent / hit a batch', `${kills.length} / ${killsHit}`],
    [
      'invocations / function errors / retried batches',
      `${stats.invocations} / ${stats.functionErrors} / ${stats.rewinds}`,
    ],
    ...functionRows(runtime),
    ['max consumer lag', `${maxLag} records`],
    [
      'produce-to-visible latency p50 / p99',
      `${latency.p50} ms / ${latency.p99} ms (${latency.entries} stream entries)`,
    ],
    ['recovery after a crash (kill to next successful batch)', recoveryText(kills, successTimes)],
    [
      'replay of the last 10,000 stream entries',
      `${replayMs.toFixed(1)} ms (${replayedEntries} entries)`,
    ],
    [
      'read at the last position published',
      `${readAt.token.slice(0, 20)}… (${readAt.partitions} partitions): ${readAtText(readAt)}`,
    ],
    ['demo wall time', seconds(performance.now() - started)],
  ];
  if (json) {
    say(
      `RESULT ${JSON.stringify({
        unique: model.unique,
        applied: verdict.applied,
        refused: verdict.refused,
        lost: verdict.lost,
        duplicated: verdict.duplicated,
        killsSent: kills.length,
        killsHit,
        maxLag,
        latencyP50Ms: latency.p50,
        latencyP99Ms: latency.p99,
        recoveryMs: kills.map(
          (at) => (successTimes.find((t) => t.start >= at)?.end ?? Number.NaN) - at,
        ),
        replayMs,
        readAtAnswered: readAt.answered,
        wallMs: performance.now() - started,
      })}`,
    );
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  say('\nreport');
  for (const [k, v] of rows) say(`  ${k.padEnd(width)}  ${v}`);

  const ok =
    verdict.ok &&
    readAt.answered &&
    wallet.match &&
    deadLettered === model.malformed &&
    killsHit >= Math.min(1, killsAsked);
  say(
    ok
      ? '\nOK: every event applied exactly once.'
      : '\nFAILED: Redis does not hold exactly the unique events.',
  );
  return { lines, ok };
}

function readAtText(readAt: Measurements['readAt']): string {
  if (!readAt.answered) return `NOT ANSWERED: ${readAt.why}`;
  const top = readAt.top.map((m) => `${m.member} ${m.score}`).join(', ');
  return `every event visible after ${readAt.waitedMs.toFixed(0)} ms; top 3: ${top}`;
}

function recoveryText(kills: number[], successes: { start: number; end: number }[]): string {
  if (kills.length === 0) return 'no crash';
  const times = kills.map((at) => {
    const next = successes.find((t) => t.start >= at);
    return next === undefined ? Number.NaN : next.end - at;
  });
  return times.map((t) => (Number.isNaN(t) ? 'never' : `${t} ms`)).join(', ');
}
