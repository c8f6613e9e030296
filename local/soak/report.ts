/**
 * The soak's report: one self-contained HTML file (no network access needed to view it) with
 * plots over time of throughput, consumer lag, produce-to-visible latency p50/p99 and the
 * alarms, every fault marked on the time axis, and the verdict and summary tables.
 *
 * The plots are drawn by uPlot (npm `uplot`, MIT), inlined from node_modules: a maintained
 * charting library made for time series, small (about 50 KB minified), fast on tens of
 * thousands of points on a canvas, and with draw hooks for marking the faults. Chart.js would do
 * too, at four times the size and with a plugin for the markers.
 *
 * buildReport() is pure: data in, HTML text out.
 */
import {
  alignedValueAxes,
  errorBoxThenUplot,
  escapeHtml,
  fitAxisToLabels,
  pageHead,
  scriptJson,
  uplotSources,
} from '../scenario/html-page.ts';

export interface SeriesPoint {
  /** ms since the run started. */
  t: number;
  /** Events the function applied per second over the last interval. */
  appliedPerSecond: number;
  /** Unique events published per second over the last interval. */
  publishedPerSecond: number;
  /** Records the consumer group is behind the log end, all partitions. */
  consumerLag: number | null;
  /** Produce-to-visible latency of the stream entries of the interval; null when none. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Produce-to-readable (a wait for the burst's position) of the bursts readable in the interval. */
  readableP50Ms: number | null;
  readableP99Ms: number | null;
  /** Alarms in ALARM at that time. */
  alarmsFiring: number;
}

export interface FaultMark {
  /** ms since the run started. */
  at: number;
  /** When its effect ended (thawed, restarted, relieved); absent for an instant. */
  endAt?: number;
  kind: string;
  label: string;
  detail: string;
}

export interface AlarmMark {
  at: number;
  alarm: string;
  to: 'OK' | 'ALARM';
  value: number;
}

export interface ReportData {
  title: string;
  startedAt: string;
  /** Rows of the verdict: [check, value, passed]. */
  verdict: [string, string, boolean][];
  /** Rows of the summary: [what, value]. */
  summary: [string, string][];
  series: SeriesPoint[];
  faults: FaultMark[];
  alarms: AlarmMark[];
  ok: boolean;
}

/** Colour of each fault kind's marks (the legend below the plots repeats them). */
export const faultColours: Record<string, string> = {
  sinkKill: '#d62728',
  producerKill: '#ff7f0e',
  redisRestartAof: '#8c564b',
  redisRestartEmpty: '#e377c2',
  redisRollback: '#9467bd',
  redisFreeze: '#17becf',
  brokerRestart: '#1f77b4',
  redeliveryStorm: '#bcbd22',
  networkLatency: '#7f7f7f',
  connectionDrop: '#2ca02c',
  clusterFailover: '#000000',
  slotMigration: '#393b79',
  maxmemory: '#843c39',
  snapshot: '#c7c7c7',
};

function table(rows: string[][], head: string[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const clock = (ms: number) => {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** The page's script: the four charts over time, drawn by uPlot, the faults marked on each. */
function chartScript(payload: unknown): string {
  return `const data = ${scriptJson(payload)};
const s = data.series;
const t = s.map((p) => p.t / 1000);
function faultMarks() {
  return {
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx;
        const top = u.bbox.top, height = u.bbox.height;
        ctx.save();
        for (const f of data.faults) {
          const x = u.valToPos(f.at / 1000, 'x', true);
          const colour = data.colours[f.kind] || '#999';
          if (f.endAt !== undefined && f.endAt !== null) {
            const x2 = u.valToPos(f.endAt / 1000, 'x', true);
            ctx.globalAlpha = 0.12;
            ctx.fillStyle = colour;
            ctx.fillRect(x, top, Math.max(1, x2 - x), height);
          }
          ctx.globalAlpha = 0.8;
          ctx.strokeStyle = colour;
          ctx.lineWidth = 1;
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
        }
        ctx.restore();
      }],
    },
  };
}
${fitAxisToLabels}
${alignedValueAxes}
const axisTime = { values: (u, vals) => vals.map((v) => Math.floor(v / 60) + ':' + String(Math.round(v % 60)).padStart(2, '0')) };
const charts = [
  { title: 'Throughput (events/s)', series: [
    { label: 'applied by the function', stroke: '#1f77b4', values: s.map((p) => p.appliedPerSecond) },
    { label: 'published', stroke: '#aaaaaa', values: s.map((p) => p.publishedPerSecond) } ] },
  { title: 'Consumer lag (records)', series: [
    { label: 'consumer lag', stroke: '#ff7f0e', values: s.map((p) => p.consumerLag) } ] },
  { title: 'Produce-to-visible latency (ms)', series: [
    { label: 'p50', stroke: '#2ca02c', values: s.map((p) => p.p50Ms) },
    { label: 'p99', stroke: '#d62728', values: s.map((p) => p.p99Ms) } ] },
  { title: 'Produce-to-readable latency, a wait for the position of each burst (ms)', series: [
    { label: 'p50', stroke: '#17becf', values: s.map((p) => p.readableP50Ms) },
    { label: 'p99', stroke: '#8c564b', values: s.map((p) => p.readableP99Ms) } ] },
  { title: 'Alarms in ALARM', series: [
    { label: 'alarms firing', stroke: '#9467bd', values: s.map((p) => p.alarmsFiring) } ] },
];
const aligned = alignedValueAxes(charts.length);
let rendered = 0;
for (const chart of charts) {
  const el = document.createElement('div');
  el.className = 'chart';
  document.getElementById('charts').appendChild(el);
  new uPlot({
    title: chart.title,
    width: 1100,
    height: 240,
    scales: { x: { time: false } },
    axes: [axisTime, { size: fitAxisToLabels }],
    series: [{ label: 'time' }, ...chart.series.map((c) => ({ label: c.label, stroke: c.stroke, width: 1.5, spanGaps: false }))],
    plugins: [faultMarks(), aligned],
  }, [t, ...chart.series.map((c) => c.values)], el);
  rendered += 1;
}
document.body.dataset.chartsRendered = String(rendered);
`;
}

/** The page, with uPlot and the data inlined. */
export function buildReport(data: ReportData, assets = uplotSources()): string {
  const verdictRows = data.verdict.map(([k, v, pass]) => [
    escapeHtml(k),
    escapeHtml(v),
    pass ? '<span class="pass">pass</span>' : '<span class="fail">FAIL</span>',
  ]);
  const summaryRows = data.summary.map(([k, v]) => [escapeHtml(k), escapeHtml(v)]);
  const faultRows = data.faults.map((f) => [
    clock(f.at),
    f.endAt === undefined ? '' : clock(f.endAt),
    `<span class="swatch" style="background:${faultColours[f.kind] ?? '#999'}"></span>${escapeHtml(f.label)}`,
    escapeHtml(f.detail),
  ]);
  const alarmRows = data.alarms.map((a) => [
    clock(a.at),
    escapeHtml(a.alarm),
    a.to,
    String(a.value),
  ]);
  const payload = {
    series: data.series,
    faults: data.faults.map(({ at, endAt, kind }) => ({ at, endAt, kind })),
    alarms: data.alarms,
    colours: faultColours,
  };
  return `${pageHead(
    data.title,
    assets.css,
    `.verdict { font-size: 18px; font-weight: 700; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; }`,
  )}
<body data-charts-rendered="0">
<h1>${escapeHtml(data.title)}</h1>
<p>Started ${escapeHtml(data.startedAt)}. <span class="verdict ${data.ok ? 'pass' : 'fail'}">${data.ok ? 'OK: every event applied exactly once.' : 'FAILED'}</span></p>
<h2>Verdict</h2>
${table(verdictRows, ['check', 'value', ''])}
<h2>Over time</h2>
<p>Vertical lines mark the faults (shaded while a fault lasts), in the colours of the table below; time is minutes:seconds since the start.</p>
<div id="charts"></div>
<h2>Faults</h2>
${table(faultRows, ['at', 'until', 'fault', 'what happened'])}
<h2>Alarms raised and cleared</h2>
${alarmRows.length ? table(alarmRows, ['at', 'alarm', 'to', 'value']) : '<p>none</p>'}
<h2>Summary</h2>
${table(summaryRows, ['', ''])}
${errorBoxThenUplot(assets.js)}
<script>
${chartScript(payload)}</script>
</body>
</html>
`;
}
