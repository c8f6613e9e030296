/**
 * What the project's HTML pages share (the soak's report, local/soak/report.ts, and the bench's
 * latency page, bench/latency-report.ts): the head with the common styles, the error box the
 * Chromium tests read, uPlot inlined from node_modules, and safe text and JSON for the page.
 * Pure: text in, text out; nothing is loaded from the network when a page is viewed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON that is safe inside a <script> element. */
export const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028|\u2029/g, '');

/**
 * The start of one of the project's HTML pages, to its <body>: the title, uPlot's stylesheet,
 * the styles every page shares, then the page's own `css`.
 */
export function pageHead(title: string, uplotCss: string, css: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${uplotCss}</style>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 700; }
.chart { margin: 12px 0 20px; }
${css}
</style>
</head>`;
}

/**
 * A page's error box, and the script that shows every script error in it (the Chromium tests
 * read it), then uPlot: the page's own chart script comes after.
 */
export function errorBoxThenUplot(uplotJs: string): string {
  return `<pre id="errors" hidden></pre>
<script>
window.addEventListener('error', (e) => {
  const el = document.getElementById('errors');
  el.hidden = false;
  el.textContent += 'error: ' + e.message + '\\n';
});
</script>
<script>${uplotJs}</script>`;
}

/**
 * A uPlot axis `size` that fits a value axis to its widest label, for a page's chart script.
 * uPlot's default is a fixed 50 px, which cuts the left of a label wider than that ("0,000" for
 * 10,000). As uPlot's own demos/axis-autosize.html does: the widest label in the axis font, plus
 * the ticks and the gap, and a few pixels so that no label touches the edge; past the first
 * sizing pass it keeps the size, so the passes converge.
 */
export const fitAxisToLabels = `function fitAxisToLabels(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  u.ctx.font = axis.font[0];
  const widest = Math.max(0, ...(values || []).map((v) => u.ctx.measureText(String(v)).width));
  return Math.ceil(axis.ticks.size + axis.gap + widest / devicePixelRatio) + 4;
}`;

/**
 * A uPlot plugin for `count` charts stacked on one time axis, for a page's chart script: once
 * every one has drawn, their value axes all take the width of the widest, so that their plots
 * start at the same x and a time is at the same place on each. The new size is set after uPlot's
 * drawing, not during it (a size set in its ready hook would not be drawn); setSize with the same
 * size lays the axes out again.
 */
export const alignedValueAxes = `function alignedValueAxes(count) {
  const drawn = [];
  return { hooks: { ready: [(u) => {
    drawn.push(u);
    if (drawn.length < count) return;
    queueMicrotask(() => {
      const widest = Math.max(...drawn.map((p) => p.axes[1]._size));
      for (const p of drawn) {
        p.axes[1].size = () => widest;
        p.setSize({ width: p.width, height: p.height });
      }
    });
  }] } };
}`;

let uplotAssets: { js: string; css: string } | undefined;

/** uPlot's browser build and stylesheet, read once from node_modules. */
export function uplotSources(): { js: string; css: string } {
  if (!uplotAssets) {
    const require = createRequire(import.meta.url);
    const dist = (file: string) => require.resolve(`uplot/dist/${file}`);
    uplotAssets = {
      js: readFileSync(dist('uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(dist('uPlot.min.css'), 'utf8'),
    };
  }
  return uplotAssets;
}
