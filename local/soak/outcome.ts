/**
 * The end of a soak run: the verdict (Redis against the model of the unique events, the dead
 * letters, the invariant sampled during the run, check-drift's last word, the sink kills), the
 * summary of what the run did, the HTML report, and the same tables printed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type DriftReport, deadLetterKeys, type RedisClient } from '../../core/index.ts';
import { sandboxSummary } from '../emulators/pipeline.ts';
import { functionRows } from '../scenario/function-rows.ts';
import { type Model, refusedCount } from '../scenario/traffic-model.ts';
import { checkAgainstModel, type Verdict } from '../scenario/verdict.ts';
import { BOARD, clock, n, SHARD, type SoakRun } from './context.ts';
import { checkDeadLetters, type DeadLetterCheck } from './dead-letters.ts';
import type { FaultRunner } from './fault-runner.ts';
import type { SoakMonitor } from './monitor.ts';
import type { SoakPublisher } from './publisher.ts';
import type { SoakReads } from './reads.ts';
import { buildReport } from './report.ts';
import type { Sampler } from './sampler.ts';
import { type FaultKind, faultKinds } from './schedule.ts';
import type { SoakSink } from './sink.ts';
import { soakStates } from './traffic.ts';

/** What the run's parts observed, for the verdict and the summary. */
export interface SoakObservations {
  /** How the connections were secured. */
  security: { redis: string; kafka: string };
  sink: SoakSink;
  publisher: SoakPublisher;
  faults: FaultRunner;
  monitor: SoakMonitor;
  sampler: Sampler;
  /** The read side: reads at a position, the delta-stream view. */
  reads: SoakReads;
  /** check-drift's check once everything was caught up. */
  finalCheck: DriftReport;
}

export interface SoakVerdict {
  verdict: Verdict;
  letters: DeadLetterCheck;
  /** Exactly one dead letter per malformed record, none twice. */
  deadLettersExact: boolean;
  /** As many sink kills hit a batch as the schedule had. */
  killsOk: boolean;
  ok: boolean;
}

/** The verdict, from the state and the dead letters, in pages. */
export async function verify(
  run: SoakRun,
  redis: RedisClient,
  seen: SoakObservations,
): Promise<SoakVerdict> {
  const { model, expectedGaps } = seen.publisher.model;
  const verdict = await checkAgainstModel(redis, model, {
    shard: SHARD,
    stateName: BOARD,
    stateNames: Object.values(soakStates),
    keyPrefix: run.prefix,
    expectedGaps,
  });
  const letters = await checkDeadLetters(redis, deadLetterKeys(run.prefix).stream, run.topic);
  const deadLettersExact = letters.entries === model.malformed && letters.outOfOrder === 0;
  const killsOk = seen.sink.activity.killsHit >= (run.counts.sinkKill ?? 0);
  const ok =
    verdict.ok &&
    deadLettersExact &&
    seen.sampler.invariant.aboveModel === 0 &&
    seen.reads.counts.boundWrong === 0 &&
    seen.reads.counts.boundAnswered > 0 &&
    seen.reads.counts.viewAbove === 0 &&
    seen.reads.viewEqualsState === true &&
    seen.finalCheck.values.redisBehindRecords === 0 &&
    killsOk;
  return { verdict, letters, deadLettersExact, killsOk, ok };
}

/** The verdict's rows: [check, value, passed]. */
export function verdictRows(
  run: SoakRun,
  seen: SoakObservations,
  { verdict, letters, deadLettersExact, killsOk }: SoakVerdict,
): [string, string, boolean][] {
  const { model } = seen.publisher.model;
  const { invariant } = seen.sampler;
  const { activity } = seen.sink;
  const behind = seen.finalCheck.values.redisBehindRecords;
  return [
    ['LOST', String(verdict.lost), verdict.lost === 0],
    ['DUPLICATED', String(verdict.duplicated), verdict.duplicated === 0],
    ['players whose score is wrong', String(verdict.wrongScores), verdict.wrongScores === 0],
    [
      `other state entries that are wrong (${verdict.statesChecked.filter((s) => s !== BOARD).join(', ')})`,
      String(verdict.wrongEntries),
      verdict.wrongEntries === 0,
    ],
    [
      'events refused (by the state: seqs consumed, not applied)',
      `${n(verdict.refused)} of the model's ${n(refusedCount(model))}`,
      verdict.refusedMatch,
    ],
    ['running totals match the model', verdict.totalsMatch ? 'yes' : 'NO', verdict.totalsMatch],
    ['open sequence gaps (unexpected)', String(verdict.openGaps), verdict.openGaps === 0],
    [
      'dead letters (exactly one per malformed record)',
      `${n(letters.entries)} of ${n(model.malformed)}${letters.outOfOrder ? `, ${letters.outOfOrder} out of order` : ''}`,
      deadLettersExact,
    ],
    [
      'sampled during the run: a score or cursor above the model',
      `${invariant.aboveModel} of ${n(invariant.checked)} (${invariant.samples} samples)`,
      invariant.aboveModel === 0,
    ],
    ...readRows(seen.reads),
    ['RedisBehindKafka at the end', String(behind), behind === 0],
    [
      'sink kills that hit a batch',
      `${activity.killsHit} (of ${activity.killsSent} sent; ${run.counts.sinkKill ?? 0} scheduled)`,
      killsOk,
    ],
  ];
}

/** e.g. `zincrby 30,012, debit 4,480 (1,210 insufficient), …`, most events first. */
export function eventsByOp(model: Model): string {
  return (
    [...model.byOp]
      .map(([op, counts]) => {
        const refused = [...counts.refused].map(([reason, c]) => `${n(c)} ${reason}`);
        const total = counts.applied + refusedCount(model, op);
        return {
          total,
          text: `${op} ${n(total)}${refused.length ? ` (${refused.join(', ')})` : ''}`,
        };
      })
      .sort((a, b) => b.total - a.total)
      .map((o) => o.text)
      .join(', ') || 'none'
  );
}

function readableText(reads: SoakReads): string {
  const { p50, p99 } = reads.latencies();
  const { readable, readableTimeouts } = reads.counts;
  return `${p50 ?? '-'} / ${p99 ?? '-'} ms (${n(readable)} bursts${readableTimeouts ? `, ${readableTimeouts} waits gave up` : ''})`;
}

/** The read side's rows of the verdict (docs/reading.md). */
function readRows(reads: SoakReads): [string, string, boolean][] {
  const { counts } = reads;
  return [
    [
      'sampled reads at the last position found readable: below its model or above the model now',
      `${counts.boundWrong} of ${n(counts.boundAnswered)} answered (${n(counts.boundRefused)} refused)`,
      counts.boundWrong === 0 && counts.boundAnswered > 0,
    ],
    [
      'delta-stream view: a sampled score above the model',
      `${counts.viewAbove} of ${n(counts.viewChecked)}`,
      counts.viewAbove === 0,
    ],
    [
      'delta-stream view equals the leaderboard at the end',
      `${reads.viewEqualsState ? 'yes' : 'NO'} (warmed ${reads.viewWarmups} times)`,
      reads.viewEqualsState === true,
    ],
  ];
}

/** The summary's rows: [what, value]. */
export function summaryRows(
  run: SoakRun,
  seen: SoakObservations,
  { verdict, letters }: SoakVerdict,
): [string, string][] {
  const { settings, counts } = run;
  const cluster = run.topology === 'cluster';
  const soakModel = seen.publisher.model;
  const { model } = soakModel;
  const { activity } = seen.sink;
  const { producer } = seen.publisher;
  const { faults } = seen;
  const { replays, alarms } = seen.monitor;
  const byReason = [...letters.byReason].map(([r, c]) => `${r} ${c}`).join(', ');
  const faultTotal = (kind: FaultKind) => `${faults.done[kind] ?? 0}`;
  return [
    [
      'seed',
      `${settings.seed} (npm run soak -- ${run.quick ? '--quick ' : ''}${cluster ? '--cluster ' : ''}--seed ${settings.seed})`,
    ],
    [
      'redis',
      `${cluster ? 'Redis Cluster, 3 masters with a replica each' : 'one redis-server'}, AOF; ${seen.security.redis}`,
    ],
    ['kafka', seen.security.kafka],
    [
      'events (unique) / records published',
      `${n(model.unique)} / ${n(model.records)} (${n(model.resends)} producer resends, ${n(model.late)} sent late, ${n(model.malformed)} malformed)`,
    ],
    ["events applied (the guard's count)", n(verdict.applied)],
    ['unique events by op (of them refused, by reason)', eventsByOp(model)],
    [
      'events refused: the model / the function logged',
      `${n(refusedCount(model))} / ${n(seen.sink.handlerCounts.refused)} (the function does not log what a kill cut short, nor what check-drift repaired)`,
    ],
    [
      'malformed records by kind',
      [...soakModel.malformedByKind].map(([k, c]) => `${k} ${c}`).join(', ') || 'none',
    ],
    ['dead letters by reason', byReason || 'none'],
    [
      'seqs drawn by a killed producer, never sent (expected open gaps)',
      `${soakModel.skippedSeqs} seqs in ${verdict.expectedGaps} gaps`,
    ],
    ['sink kills sent / hit a batch', `${activity.killsSent} / ${activity.killsHit}`],
    ['producer kills (restarts)', `${producer.kills} (${producer.starts - 1})`],
    [
      'redis faults / of them lost acknowledged writes',
      `${faults.redisFaultCount()} / ${faults.lostWritesFaults} (${n(faults.lostApplied)} acknowledged events' effects lost and repaired)`,
    ],
    ...(Object.keys(faultKinds) as FaultKind[])
      .filter((k) => k !== 'sinkKill' && counts[k])
      .map((k): [string, string] => [`  ${faultKinds[k]}`, faultTotal(k)]),
    ['check-drift repairs (replays) / records replayed', `${replays.runs} / ${n(replays.records)}`],
    ['invocations / function errors', `${n(activity.invocations)} / ${n(activity.functionErrors)}`],
    ...functionRows(sandboxSummary([seen.sink.pipeline])),
    ['max consumer lag', `${n(seen.sampler.maxLag)} records`],
    ["produce-to-readable p50 / p99 (a wait for each burst's position)", readableText(seen.reads)],
    [
      'alarms raised / cleared',
      `${alarms.filter((a) => a.to === 'ALARM').length} / ${alarms.filter((a) => a.to === 'OK').length}`,
    ],
    ['wall time', `${clock(run.elapsed())} (${(run.elapsed() / 1000).toFixed(0)} s)`],
  ];
}

/** Writes the HTML report (to `file`, or under .cache/soak/), then prints the tables and its path. */
export async function report(
  run: SoakRun,
  seen: SoakObservations,
  outcome: SoakVerdict,
  file: string | undefined,
): Promise<void> {
  const verdict = verdictRows(run, seen, outcome);
  const summary = summaryRows(run, seen, outcome);
  const { topology, settings } = run;
  const reportFile = resolve(file ?? `.cache/soak/soak-${topology}-seed${settings.seed}.html`);
  await mkdir(dirname(reportFile), { recursive: true });
  await writeFile(
    reportFile,
    buildReport({
      title: `seqguard soak, ${topology === 'cluster' ? 'Redis Cluster' : 'single Redis'}, seed ${settings.seed}`,
      startedAt: new Date(run.started).toISOString(),
      verdict,
      summary,
      series: seen.sampler.series,
      faults: seen.faults.marks,
      alarms: seen.monitor.alarms,
      ok: outcome.ok,
    }),
  );
  const width = Math.max(...[...verdict, ...summary].map(([k]) => k.length));
  console.log('\nsummary');
  for (const [k, v] of summary) console.log(`  ${k.padEnd(width)}  ${v}`);
  console.log('\nverdict');
  for (const [k, v, pass] of verdict)
    console.log(`  ${k.padEnd(width)}  ${v}${pass ? '' : '   <- FAILED'}`);
  console.log(`\nreport  ${reportFile}`);
  console.log(
    outcome.ok
      ? '\nOK: every event applied exactly once, through every fault.'
      : '\nFAILED: see the verdict above.',
  );
}
