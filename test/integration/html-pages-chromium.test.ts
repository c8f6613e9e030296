/**
 * The project's HTML pages in a real browser: the soak's report (local/soak/report.ts) and the
 * bench's latency page (bench/results.html, bench/latency-report.ts). Headless Chromium
 * (Debian's `chromium`, which .ci/run installs) loads each file, runs its scripts, and the DOM
 * it dumps must hold the page's uPlot charts, each drawn on its canvas, and no script error.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildLatencyPage } from '../../bench/latency-report.ts';
import { buildReport } from '../../local/soak/report.ts';
import { dumpDom } from '../helpers/chromium.ts';
import { sampleLatencyPage } from '../helpers/latency-page.ts';
import { sampleReport } from '../helpers/soak-report.ts';

const pages: [name: string, build: () => string][] = [
  ['the soak report', () => buildReport(sampleReport())],
  ['the latency page', () => buildLatencyPage(sampleLatencyPage())],
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(inject('tempRoot'), 'html-pages-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(pages)('%s in headless Chromium', (name, build) => {
  const slug = name.replaceAll(' ', '-');

  it('renders its four charts, each on a canvas, with no script error', async () => {
    // Prepare
    const file = join(dir, `${slug}.html`);
    await writeFile(file, build());
    // Act
    const dom = await dumpDom(file, dir);
    // Assess
    expect(dom).toContain('data-charts-rendered="4"');
    expect(dom.match(/<div class="uplot/g)).toHaveLength(4);
    expect(dom.match(/<canvas/g)?.length).toBeGreaterThanOrEqual(4);
    expect(dom).toMatch(/<pre id="errors" hidden=""><\/pre>/);
  }, 90_000);

  it('shows a script error on the page, so the test above would see one', async () => {
    const file = join(dir, `${slug}-broken.html`);
    await writeFile(file, build().replace('new uPlot(', 'new NoSuchChart('));
    const dom = await dumpDom(file, dir);
    expect(dom).not.toContain('data-charts-rendered="4"');
    expect(dom).toMatch(/<pre id="errors">error: .*NoSuchChart/);
  }, 90_000);
});
