/**
 * Headless Chromium (Debian's `chromium`, which .ci/run installs) for the tests of the project's
 * HTML pages: it loads a file, runs its scripts, and returns the DOM they left; a probe put in a
 * page records the texts its scripts draw on canvases, which the DOM does not hold.
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

/** A text a page drew on a canvas: its box in the canvas's pixels, and the canvas's size. */
export interface DrawnText {
  /** The title of the uPlot chart the canvas belongs to ('' if none). */
  chart: string;
  text: string;
  left: number;
  right: number;
  top: number;
  bottom: number;
  canvasWidth: number;
  canvasHeight: number;
}

/**
 * A script that records every text drawn on a canvas (uPlot draws its axis labels with
 * fillText, so they are not in the DOM) with its bounding box, the canvas's transform applied,
 * and keeps only each canvas's last drawing (a full clearRect starts a new one). Once the page
 * has loaded, it writes them as JSON into <pre id="drawn-text">, for drawnTexts() to read.
 */
const drawnTextProbe = `<script>
(() => {
  const byCanvas = new Map();
  const proto = CanvasRenderingContext2D.prototype;
  const clearRect = proto.clearRect;
  proto.clearRect = function (x, y, w, h) {
    if (x <= 0 && y <= 0 && w >= this.canvas.width && h >= this.canvas.height) byCanvas.set(this.canvas, []);
    return clearRect.call(this, x, y, w, h);
  };
  const fillText = proto.fillText;
  proto.fillText = function (text, x, y, ...rest) {
    const m = this.measureText(String(text));
    const t = this.getTransform();
    const xs = [], ys = [];
    for (const [px, py] of [
      [x - m.actualBoundingBoxLeft, y - m.actualBoundingBoxAscent],
      [x + m.actualBoundingBoxRight, y - m.actualBoundingBoxAscent],
      [x - m.actualBoundingBoxLeft, y + m.actualBoundingBoxDescent],
      [x + m.actualBoundingBoxRight, y + m.actualBoundingBoxDescent],
    ]) {
      xs.push(t.a * px + t.c * py + t.e);
      ys.push(t.b * px + t.d * py + t.f);
    }
    const chart = this.canvas.closest('.uplot')?.querySelector('.u-title')?.textContent ?? '';
    if (!byCanvas.has(this.canvas)) byCanvas.set(this.canvas, []);
    byCanvas.get(this.canvas).push({
      chart, text: String(text),
      left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys),
      canvasWidth: this.canvas.width, canvasHeight: this.canvas.height,
    });
    return fillText.call(this, text, x, y, ...rest);
  };
  addEventListener('load', () => setTimeout(() => {
    const pre = document.createElement('pre');
    pre.id = 'drawn-text';
    pre.textContent = JSON.stringify([...byCanvas.values()].flat());
    document.body.append(pre);
  }, 0));
})();
</script>`;

/** `html` with the probe of drawnTextProbe first in its <head>, before any script of the page. */
export function withDrawnTextProbe(html: string): string {
  if (!html.includes('<head>')) throw new Error('the page has no <head> to put the probe in');
  return html.replace('<head>', `<head>\n${drawnTextProbe}`);
}

/** The texts the probe recorded, read back from the DOM Chromium dumped. */
export function drawnTexts(dom: string): DrawnText[] {
  const json = /<pre id="drawn-text">([^<]*)<\/pre>/.exec(dom)?.[1];
  if (json === undefined)
    throw new Error('the page has no <pre id="drawn-text">: was the probe in it?');
  return JSON.parse(
    json.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&'),
  ) as DrawnText[];
}
