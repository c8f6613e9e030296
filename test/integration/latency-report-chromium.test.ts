/**
 * The bench's latency page (bench/results.html) in a real browser: headless Chromium (Debian's
 * `chromium`, which .ci/run installs) loads the file, runs its scripts, and the DOM it dumps must
 * hold its uPlot charts, each drawn on its canvas, and no script error.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { buildLatencyPage } from '../../bench/latency-report.ts';
import { dumpDom } from '../helpers/chromium.ts';
import { sampleLatencyPage } from '../helpers/latency-page.ts';

let dir: string;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the latency page in headless Chromium', () => {
  it('renders its four charts, each on a canvas, with no script error', async () => {
    // Prepare
    dir = await mkdtemp(join(inject('tempRoot'), 'latency-page-'));
    const file = join(dir, 'results.html');
    await writeFile(file, buildLatencyPage(sampleLatencyPage()));
    // Act
    const dom = await dumpDom(file, dir);
    // Assess
    expect(dom).toContain('data-charts-rendered="4"');
    expect(dom.match(/<div class="uplot/g)).toHaveLength(4);
    expect(dom.match(/<canvas/g)?.length).toBeGreaterThanOrEqual(4);
    expect(dom).toMatch(/<pre id="errors" hidden=""><\/pre>/);
  }, 90_000);
});
