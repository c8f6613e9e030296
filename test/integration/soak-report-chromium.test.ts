/**
 * The soak's HTML report in a real browser: headless Chromium (Debian's `chromium`, which
 * .ci/run installs) loads the file, runs its scripts, and the DOM it dumps must hold the four
 * uPlot charts, each drawn on its canvas, and no script error.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { buildReport } from '../../local/soak/report.ts';
import { sampleReport } from '../helpers/soak-report.ts';

const execFileAsync = promisify(execFile);
let dir: string;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function dumpDom(file: string): Promise<string> {
  const profile = join(dir, 'profile');
  const { stdout } = await execFileAsync(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      '--virtual-time-budget=5000',
      '--dump-dom',
      pathToFileURL(file).href,
    ],
    { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  ).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT')
      throw new Error('chromium is not on PATH; install it with: apt-get install chromium');
    throw error;
  });
  return stdout;
}

describe('the soak report in headless Chromium', () => {
  it('renders its four charts, each on a canvas, with no script error', async () => {
    // Prepare
    dir = await mkdtemp(join(inject('tempRoot'), 'soak-report-'));
    const file = join(dir, 'report.html');
    await writeFile(file, buildReport(sampleReport()));
    // Act
    const dom = await dumpDom(file);
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
    const dom = await dumpDom(file);
    expect(dom).toContain('data-charts-rendered="0"');
    expect(dom).toMatch(/<pre id="errors">error: .*NoSuchChart/);
  }, 90_000);
});
