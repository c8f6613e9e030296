/**
 * docs/performance.md shows the tables of the last full benchmark run, and they come from
 * bench/results.md (which `npm run bench` writes), never copied by hand: this puts the results
 * between the page's markers `<!-- bench:begin -->` and `<!-- bench:end -->`, their headings one
 * level down, its relative links made to point from docs/, and leaves the rest of the page (the
 * prose that reads the tables) as it is. The README's cost table comes from the same run,
 * between `<!-- bench-cost:begin -->` and `<!-- bench-cost:end -->`.
 *
 * `npm run docs` runs it, and so does `npm run bench` after its run (package.json's `postbench`).
 * test/unit/bench/performance-doc.test.ts fails when either page is out of date with bench/results.md.
 *
 *   npm run docs
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const benchBegin = '<!-- bench:begin -->';
export const benchEnd = '<!-- bench:end -->';
export const costBegin = '<!-- bench-cost:begin -->';
export const costEnd = '<!-- bench-cost:end -->';
/** The heading of the results' cost section, as bench/run.ts writes it. */
export const costHeading = '## Cost per million events';

/** The files the page is made from and written to, by their repository paths. */
export const performanceDocFiles = {
  results: 'bench/results.md',
  doc: 'docs/performance.md',
  readme: 'README.md',
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

/** `doc` (the file `file`) with what lies between its markers `begin` and `end` replaced. */
function replaceBetween(
  doc: string,
  file: string,
  [begin, end]: readonly [string, string],
  generated: string,
): string {
  const at = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (at < 0 || to < at) {
    throw new PerformanceDocError(`${file} must hold ${begin}, then ${end}, once each`);
  }
  if (doc.indexOf(begin, at + 1) >= 0 || doc.indexOf(end, to + 1) >= 0) {
    throw new PerformanceDocError(`${file} holds ${begin} or ${end} more than once`);
  }
  return doc.slice(0, at) + generated + doc.slice(to + end.length);
}

/** The page with its generated part replaced by the tables of `results`. */
export function withBenchSection(doc: string, results: string): string {
  return replaceBetween(
    doc,
    performanceDocFiles.doc,
    [benchBegin, benchEnd],
    renderBenchSection(results),
  );
}

/**
 * The README's cost part: the results' cost section (its table and the inputs under it) without
 * its heading, with the run's machine and time.
 */
export function renderCostSection(results: string): string {
  const lines = results.replace(/\r\n/g, '\n').trimEnd().split('\n');
  const at = lines.findIndex((line) => line.startsWith(costHeading));
  if (at < 0) {
    throw new PerformanceDocError(
      `${performanceDocFiles.results} has no section "${costHeading}…"`,
    );
  }
  const next = lines.findIndex((line, i) => i > at && line.startsWith('## '));
  const body = lines.slice(at + 1, next < 0 ? undefined : next);
  while (body[0] === '') body.shift();
  while (body.at(-1) === '') body.pop();
  const machine = lines.slice(1).find((line) => line.trim() !== '') ?? '';
  return [
    costBegin,
    `<!-- Generated from ${performanceDocFiles.results} by \`npm run docs\`: edit bench/run.ts, not this part. -->`,
    '',
    `From the last full run in \`${performanceDocFiles.results}\` (${machine}):`,
    '',
    ...body,
    '',
    costEnd,
  ].join('\n');
}

/** The README with its cost part replaced by the cost section of `results`. */
export function withCostSection(readme: string, results: string): string {
  return replaceBetween(
    readme,
    performanceDocFiles.readme,
    [costBegin, costEnd],
    renderCostSection(results),
  );
}

/** Reads the files under `root` and returns each generated page as it is and as it must be. */
export async function expectedPages(
  root: string,
): Promise<{ file: string; current: string; expected: string }[]> {
  const read = (file: string) => readFile(join(root, file), 'utf8');
  const [results, doc, readme] = await Promise.all([
    read(performanceDocFiles.results),
    read(performanceDocFiles.doc),
    read(performanceDocFiles.readme),
  ]);
  return [
    { file: performanceDocFiles.doc, current: doc, expected: withBenchSection(doc, results) },
    {
      file: performanceDocFiles.readme,
      current: readme,
      expected: withCostSection(readme, results),
    },
  ];
}

if (import.meta.main) {
  const root = join(import.meta.dirname, '..');
  for (const { file, current, expected } of await expectedPages(root)) {
    if (expected === current) {
      console.log(`${file} is up to date with ${performanceDocFiles.results}`);
    } else {
      await writeFile(join(root, file), expected);
      console.log(`${file}: tables written from ${performanceDocFiles.results}`);
    }
  }
}
