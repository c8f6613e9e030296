/**
 * The project's HTML pages in a real browser: the soak's report (local/soak/report.ts) and the
 * bench's latency page (bench/results.html, bench/latency-report.ts). Headless Chromium
 * (Debian's `chromium`, which .ci/run installs) loads each file, runs its scripts, and the DOM
 * it dumps must hold the page's uPlot charts, each drawn on its canvas, and no script error.
 * The soak report's axis labels, which uPlot draws on the canvas, must show in full: a probe
 * records every text drawn and its box, and none may reach past its canvas.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildLatencyPage } from '../../bench/latency-report.ts';
import { buildReport } from '../../local/soak/report.ts';
import { type DrawnText, drawnTexts, dumpDom, withDrawnTextProbe } from '../helpers/chromium.ts';
import { sampleLatencyPage } from '../helpers/latency-page.ts';
import { sampleReport } from '../helpers/soak-report.ts';

const pages: [name: string, build: () => string, charts: number][] = [
  ['the soak report', () => buildReport(sampleReport()), 5],
  ['the latency page', () => buildLatencyPage(sampleLatencyPage()), 4],
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(inject('tempRoot'), 'html-pages-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(pages)('%s in headless Chromium', (name, build, charts) => {
  const slug = name.replaceAll(' ', '-');

  it(`renders its ${charts} charts, each on a canvas, with no script error`, async () => {
    // Prepare
    const file = join(dir, `${slug}.html`);
    await writeFile(file, build());
    // Act
    const dom = await dumpDom(file, dir);
    // Assess
    expect(dom).toContain(`data-charts-rendered="${charts}"`);
    expect(dom.match(/<div class="uplot/g)).toHaveLength(charts);
    expect(dom.match(/<canvas/g)?.length).toBeGreaterThanOrEqual(charts);
    expect(dom).toMatch(/<pre id="errors" hidden=""><\/pre>/);
  }, 90_000);

  it('shows a script error on the page, so the test above would see one', async () => {
    const file = join(dir, `${slug}-broken.html`);
    await writeFile(file, build().replace('new uPlot(', 'new NoSuchChart('));
    const dom = await dumpDom(file, dir);
    expect(dom).not.toContain(`data-charts-rendered="${charts}"`);
    expect(dom).toMatch(/<pre id="errors">error: .*NoSuchChart/);
  }, 90_000);
});

/** Texts drawn past their canvas's edges: cut off where the page shows them. */
const clippedTexts = (texts: readonly DrawnText[]) =>
  texts.filter(
    (t) => t.left < 0 || t.top < 0 || t.right > t.canvasWidth || t.bottom > t.canvasHeight,
  );

describe('the axis labels of the soak report in headless Chromium', () => {
  /** The texts drawn on the page's charts, with the probe in the page. */
  async function labelsOf(html: string, name: string): Promise<DrawnText[]> {
    const file = join(dir, `${name}.html`);
    await writeFile(file, withDrawnTextProbe(html));
    return drawnTexts(await dumpDom(file, dir));
  }

  it('shows every label in full, 10,000 ms and above on the latency axis too', async () => {
    // Prepare: a broker restart's backlog takes p99 to 13 s (sampleReport).
    const html = buildReport(sampleReport());
    // Act
    const texts = await labelsOf(html, 'soak-report-labels');
    // Assess
    const latencyValues = texts
      .filter((t) => t.chart.startsWith('Produce-to-visible latency'))
      .filter((t) => /^[\d,]+$/.test(t.text));
    expect(latencyValues.map((t) => Number(t.text.replaceAll(',', '')))).toContain(10_000);
    expect(clippedTexts(texts)).toEqual([]);
    // The value axes share the widest one's width: a time is at the same x on all five charts.
    const halfMinute = texts.filter((t) => t.text === '0:30');
    expect(halfMinute).toHaveLength(5);
    expect(new Set(halfMinute.map((t) => t.left)).size).toBe(1);
  }, 90_000);

  it('finds them cut off at the default axis size of uPlot, as the report had it', async () => {
    const fitted = buildReport(sampleReport());
    const html = fitted.replaceAll('{ size: fitAxisToLabels }', '{}');
    expect(html).not.toBe(fitted);
    const texts = await labelsOf(html, 'soak-report-labels-default');
    expect(clippedTexts(texts).map((t) => t.text)).toContain('10,000');
  }, 90_000);
});
