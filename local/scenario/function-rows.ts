/**
 * The report rows on what ran the function (the deployed bundle under AWS's runtime, or the
 * TypeScript source) and the durations Lambda's runtime reported for it: shared by the demo's
 * report and the soak's.
 */
import { type Pipeline, type SandboxSummary, sandboxSummary } from '../emulators/pipeline.ts';

/** The value at percentile `p` of `values` (any order); NaN when there are none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** The rows on what ran the function: its sandbox, and Lambda's REPORT durations when it has them. */
export function functionRows(runtime: SandboxSummary): [string, string][] {
  const rows: [string, string][] = [['function: what ran', runtime.runs]];
  if (runtime.initMs.length > 0)
    rows.push([
      'function inits (INIT REPORT): count, p50 / max',
      `${runtime.initMs.length}: ${ms(percentile(runtime.initMs, 50))} / ${ms(Math.max(...runtime.initMs))}`,
    ]);
  if (runtime.durationsMs.length > 0)
    rows.push([
      'function invocations: Duration p50 / p99 / max (REPORT)',
      `${runtime.durationsMs.length}: ${ms(percentile(runtime.durationsMs, 50))} / ${ms(percentile(runtime.durationsMs, 99))} / ${ms(Math.max(...runtime.durationsMs))}`,
    ]);
  return rows;
}

/** The line saying a pipeline's function is warm: its process, and its init as Lambda timed it. */
export function startedLine(pipeline: Pipeline, whose?: string): string {
  const init = sandboxSummary([pipeline]).initMs[0];
  const timed = init === undefined ? '' : ` in ${init.toFixed(0)} ms (INIT REPORT)`;
  return `function started: cold start done${timed}, process ${pipeline.sandbox.pid}${whose ? ` (${whose})` : ''}`;
}
