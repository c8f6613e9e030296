/**
 * The companion page of bench/results.md: the latency curve of low-latency mode
 * (bench/latency-curve.ts) as plots against offered load, with its table. One self-contained
 * HTML file, drawn by uPlot inlined from node_modules, as the soak's report is
 * (local/soak/report.ts): no other charting library, nothing loaded from the network.
 *
 * buildLatencyPage() is pure: data in, HTML text out.
 */
import {
  errorBoxThenUplot,
  escapeHtml,
  pageHead,
  scriptJson,
  uplotSources,
} from '../local/scenario/html-page.ts';
import { keepsUp, type LatencyPoint } from './latency-curve.ts';
import { fixed } from './lib.ts';

export interface LatencyPageData {
  title: string;
  /** The machine and the time of the run, as bench/results.md's first line names them. */
  run: string;
  /** What each point ran with: window, batch size, partitions, seconds. */
  setup: string;
  points: LatencyPoint[];
  /** Lines drawn across the latency plot, e.g. AWS's 100 ms. */
  references: { label: string; ms: number }[];
}

/** The page, with uPlot and the data inlined. */
export function buildLatencyPage(data: LatencyPageData, assets = uplotSources()): string {
  return `${pageHead(data.title, assets.css, 'body { max-width: 1180px; }\ntd { text-align: right; }')}
<body data-charts-rendered="0">
<h1>${escapeHtml(data.title)}</h1>
<p>${escapeHtml(data.run)}</p>
<p>${escapeHtml(data.setup)}</p>
<h2>Produce-to-visible latency against offered load</h2>
<p>Each point is a run of its own at a steady offered rate. Dashed lines: ${data.references
    .map((r) => `${escapeHtml(r.label)} (${fixed(r.ms)} ms)`)
    .join(
      '; ',
    )}. Shaded: the rates where the pipeline did not keep up (its consumer lag grew while events were offered).</p>
<div id="charts"></div>
<h2>The points</h2>
${pointsTable(data.points)}
<p>linger + produce: from when the event was due (its record timestamp) to the broker's acknowledgement (acks=all); wait for invocation: from there to the start of the invocation that carried it (fetch, and the queue behind the invocation running); invocation to visible: from there to the guard's write (the process hop, decoding, the Lua call).</p>
${errorBoxThenUplot(assets.js)}
<script>
const data = ${scriptJson(chartData(data))};
${drawCharts}</script>
</body>
</html>
`;
}

const pointColumns = [
  'offered events/s',
  'sent events/s',
  'events measured',
  'p50',
  'p99',
  'max',
  'max consumer lag',
  'records per invocation',
  'linger + produce p50 / p99',
  'wait for invocation p50 / p99',
  'invocation to visible p50 / p99',
  'CPU ms per 1,000 events: producer + emulator / handler / Redis / broker',
  'keeps up',
  'exact',
];

/** The points as an HTML table, one row each, in the columns of `pointColumns`. */
function pointsTable(points: LatencyPoint[]): string {
  const ms = (n: number) => `${fixed(n)} ms`;
  const rows = points.map((p) => [
    fixed(p.offeredPerSecond),
    fixed(p.sentPerSecond),
    fixed(p.events),
    ms(p.p50Ms),
    ms(p.p99Ms),
    ms(p.maxMs),
    fixed(p.maxLag),
    fixed(p.recordsPerInvocation, 1),
    `${ms(p.produce.p50)} / ${ms(p.produce.p99)}`,
    `${ms(p.waitForInvocation.p50)} / ${ms(p.waitForInvocation.p99)}`,
    `${ms(p.invocationToVisible.p50)} / ${ms(p.invocationToVisible.p99)}`,
    [p.cpu.producerAndEmulator, p.cpu.handler, p.cpu.redis, p.cpu.broker]
      .map((v) => fixed(v))
      .join(' / '),
    p.saturated
      ? `<span class="fail">${escapeHtml(keepsUp(p))}</span>`
      : '<span class="pass">yes</span>',
    !p.drained
      ? 'not drained'
      : p.correct
        ? '<span class="pass">yes</span>'
        : '<span class="fail">NO</span>',
  ]);
  return `<table><thead><tr>${pointColumns.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** What the page's script plots: per point, the values of its charts; and the reference lines. */
function chartData(data: LatencyPageData) {
  return {
    points: data.points.map((p) => ({
      rate: p.offeredPerSecond,
      p50: p.p50Ms,
      p99: p.p99Ms,
      max: p.maxMs,
      lag: p.maxLag,
      perInvocation: p.recordsPerInvocation,
      produce99: p.produce.p99,
      wait99: p.waitForInvocation.p99,
      invoke99: p.invocationToVisible.p99,
      saturated: p.saturated,
      cpu: p.cpu,
    })),
    references: data.references,
  };
}

/**
 * The page's script after `const data = …`: the four uPlot charts against offered rate, with
 * the reference lines and the saturated rates marked. It sets `data-charts-rendered` on the
 * body for the Chromium test.
 */
const drawCharts = `const x = data.points.map((p) => p.rate);
const firstSaturated = data.points.find((p) => p.saturated);
/** Dashed lines at the reference latencies, and the rates where the pipeline fell behind shaded. */
function marks(withReferences) {
  return { hooks: { draw: [(u) => {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    if (firstSaturated) {
      const from = u.valToPos(firstSaturated.rate, 'x', true);
      ctx.fillStyle = 'rgba(207, 34, 46, 0.08)';
      ctx.fillRect(from, top, left + width - from, height);
    }
    if (withReferences) {
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1;
      ctx.strokeStyle = '#555';
      ctx.fillStyle = '#555';
      ctx.font = Math.round(12 * devicePixelRatio) + 'px system-ui, sans-serif';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'bottom';
      for (const r of data.references) {
        const y = u.valToPos(r.ms, 'y', true);
        if (y < top || y > top + height) continue;
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + width, y);
        ctx.stroke();
        ctx.fillText(r.label, left + 6, y - 4);
      }
    }
    ctx.restore();
  }] } };
}
const axisRate = { label: 'offered events/s', values: (u, vals) => vals.map((v) => v.toLocaleString('en')) };
const charts = [
  { title: 'Produce-to-visible latency (ms, log scale)', log: true, references: true, axis: 'ms', series: [
    { label: 'p50', colour: '#2ca02c', values: data.points.map((p) => p.p50) },
    { label: 'p99', colour: '#d62728', values: data.points.map((p) => p.p99) },
    { label: 'max', colour: '#aaaaaa', values: data.points.map((p) => p.max) } ] },
  { title: 'Where the p99 goes (ms, log scale)', log: true, references: false, axis: 'ms', series: [
    { label: 'linger + produce (due to ack)', colour: '#1f77b4', values: data.points.map((p) => p.produce99) },
    { label: 'wait for the invocation', colour: '#ff7f0e', values: data.points.map((p) => p.wait99) },
    { label: 'invocation to visible', colour: '#9467bd', values: data.points.map((p) => p.invoke99) } ] },
  { title: 'CPU ms per 1,000 events, by process', log: false, references: false, axis: 'ms', series: [
    { label: 'producer + emulator', colour: '#1f77b4', values: data.points.map((p) => p.cpu.producerAndEmulator) },
    { label: 'handler', colour: '#9467bd', values: data.points.map((p) => p.cpu.handler) },
    { label: 'Redis', colour: '#d62728', values: data.points.map((p) => p.cpu.redis) },
    { label: 'Kafka broker', colour: '#8c564b', values: data.points.map((p) => p.cpu.broker) } ] },
  { title: 'Max consumer lag (records) and records per invocation', log: false, references: false, axis: '', series: [
    { label: 'max consumer lag', colour: '#ff7f0e', values: data.points.map((p) => p.lag) },
    { label: 'records per invocation', colour: '#17becf', values: data.points.map((p) => p.perInvocation) } ] },
];
let rendered = 0;
for (const chart of charts) {
  const el = document.createElement('div');
  el.className = 'chart';
  document.getElementById('charts').appendChild(el);
  // A log scale has no 0: a reading of 0 ms (under the clock's resolution) is drawn at 0.5 ms.
  const values = chart.series.map((c) => c.values.map((v) => (chart.log && v !== null && v <= 0 ? 0.5 : v)));
  new uPlot({
    title: chart.title,
    width: 1100,
    height: 300,
    scales: { x: { time: false }, y: chart.log ? { distr: 3, log: 10 } : {} },
    axes: [axisRate, { label: chart.axis }],
    series: [{ label: 'offered events/s' }, ...chart.series.map((c) => ({
      label: c.label,
      stroke: c.colour,
      width: 2,
      points: { show: true, size: 7, stroke: c.colour, fill: c.colour },
    }))],
    plugins: [marks(chart.references)],
  }, [x, ...values], el);
  rendered += 1;
}
document.body.dataset.chartsRendered = String(rendered);
`;
