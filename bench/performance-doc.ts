/**
 * docs/performance.md shows the tables of the last full benchmark run, and they come from
 * bench/results.md (which `npm run bench` writes), never copied by hand: this puts the results
 * between the page's markers `<!-- bench:begin -->` and `<!-- bench:end -->`, their headings one
 * level down, its relative links made to point from docs/, and leaves the rest of the page (the
 * prose that reads the tables) as it is.
 *
 * `npm run docs` runs it, and so does `npm run bench` after its run (package.json's `postbench`).
 * test/unit/performance-doc.test.ts fails when the page is out of date with bench/results.md.
 *
 *   npm run docs
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const benchBegin = '<!-- bench:begin -->';
export const benchEnd = '<!-- bench:end -->';

/** The files the page is made from and written to, by their repository paths. */
export const performanceDocFiles = {
  results: 'bench/results.md',
  doc: 'docs/performance.md',
} as const;

export class PerformanceDocError extends Error {
  override name = 'PerformanceDocError';
}

/**
 * A relative link of bench/results.md (to a file next to it, like its plot page results.html),
 * made to point at the same file from docs/.
 */
function fromDocs(line: string): string {
  return line.replace(/\]\((?![a-z][a-z0-9+.-]*:|\/|#)([^)\s]+)\)/gi, '](../bench/$1)');
}

/**
 * The part of the page generated from bench/results.md: the run's machine and time, then every
 * section of the results with its heading one level down (the page's own title stays the only
 * level-1 heading). The results' own title line is dropped.
 */
export function renderBenchSection(results: string): string {
  const lines = results.replace(/\r\n/g, '\n').trimEnd().split('\n');
  if (!lines[0]?.startsWith('# ')) {
    throw new PerformanceDocError(
      `${performanceDocFiles.results} must start with its "# " title line, found: ${lines[0] ?? '(empty)'}`,
    );
  }
  let inFence = false;
  const body = lines.slice(1).map((line) => {
    if (line.startsWith('```')) inFence = !inFence;
    if (inFence) return line;
    return /^#{1,5} /.test(line) ? `#${line}` : fromDocs(line);
  });
  while (body[0] === '') body.shift();
  // The first paragraph names the machine and the time of the run.
  const source = `The run in \`${performanceDocFiles.results}\` (written by \`npm run bench\`)`;
  if (body[0] !== undefined && !body[0].startsWith('#')) body[0] = `${source}: ${body[0]}`;
  else body.unshift(`${source}.`, '');
  return [
    benchBegin,
    `<!-- Generated from ${performanceDocFiles.results} by \`npm run docs\`: edit bench/run.ts, not this part. -->`,
    '',
    ...body,
    '',
    benchEnd,
  ].join('\n');
}

/** The page with its generated part replaced by the tables of `results`. */
export function withBenchSection(doc: string, results: string): string {
  const begin = doc.indexOf(benchBegin);
  const end = doc.indexOf(benchEnd);
  if (begin < 0 || end < begin) {
    throw new PerformanceDocError(
      `${performanceDocFiles.doc} must hold ${benchBegin}, then ${benchEnd}, once each`,
    );
  }
  if (doc.indexOf(benchBegin, begin + 1) >= 0 || doc.indexOf(benchEnd, end + 1) >= 0) {
    throw new PerformanceDocError(
      `${performanceDocFiles.doc} holds ${benchBegin} or ${benchEnd} more than once`,
    );
  }
  return doc.slice(0, begin) + renderBenchSection(results) + doc.slice(end + benchEnd.length);
}

/** Reads both files under `root` and returns the page as it must be. */
export async function expectedPerformanceDoc(
  root: string,
): Promise<{ current: string; expected: string }> {
  const [results, current] = await Promise.all([
    readFile(join(root, performanceDocFiles.results), 'utf8'),
    readFile(join(root, performanceDocFiles.doc), 'utf8'),
  ]);
  return { current, expected: withBenchSection(current, results) };
}

if (import.meta.main) {
  const root = join(import.meta.dirname, '..');
  const { current, expected } = await expectedPerformanceDoc(root);
  if (expected === current) {
    console.log(`${performanceDocFiles.doc} is up to date with ${performanceDocFiles.results}`);
  } else {
    await writeFile(join(root, performanceDocFiles.doc), expected);
    console.log(`${performanceDocFiles.doc}: tables written from ${performanceDocFiles.results}`);
  }
}
