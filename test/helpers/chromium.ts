/**
 * Headless Chromium (Debian's `chromium`, which .ci/run installs) for the tests of the project's
 * HTML pages: it loads a file, runs its scripts, and returns the DOM they left.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The DOM of `file` after its scripts ran; `dir` holds the browser's throwaway profile. */
export async function dumpDom(file: string, dir: string): Promise<string> {
  const { stdout } = await execFileAsync(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      `--user-data-dir=${join(dir, 'profile')}`,
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
