/**
 * The soak's HTML report in a real browser: headless Chromium (Debian's `chromium`, which
 * .ci/run installs) loads the file, runs its scripts, and the DOM it dumps must hold the four
 * uPlot charts, each drawn on its canvas, and no script error.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { buildReport } from '../../local/soak/report.ts';
import { dumpDom } from '../helpers/chromium.ts';
import { sampleReport } from '../helpers/soak-report.ts';

let dir: string;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the soak report in headless Chromium', () => {
  it('renders its four charts, each on a canvas, with no script error', async () => {
    // Prepare
    dir = await mkdtemp(join(inject('tempRoot'), 'soak-report-'));
    const file = join(dir, 'report.html');
    await writeFile(file, buildReport(sampleReport()));
    // Act
    const dom = await dumpDom(file, dir);
    // Assess
    expect(dom).toContain('data-charts-rendered="4"');
    expect(dom.match(/<div class="uplot/g)).toHaveLength(4);
    expect(dom.match(/<canvas/g)?.length).toBeGreaterThanOrEqual(4);
    expect(dom).toMatch(/<pre id="errors" hidden=""><\/pre>/);
  }, 90_000);

  it('shows a script error on the page, so the first test would see one', async () => {
    dir ??= await mkdtemp(join(inject('tempRoot'), 'soak-report-'));
    const file = join(dir, 'broken.html');
    await writeFile(file, buildReport(sampleReport()).replace('new uPlot(', 'new NoSuchChart('));
    const dom = await dumpDom(file, dir);
    expect(dom).toContain('data-charts-rendered="0"');
    expect(dom).toMatch(/<pre id="errors">error: .*NoSuchChart/);
  }, 90_000);
});
