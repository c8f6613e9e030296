/**
 * The README and docs/*.md point only at what exists: every relative link at a file of the
 * repository and, with a `#fragment`, at a heading of that page (anchors as GitHub makes them);
 * every repository path they quote in code at a file or folder that is there; and the README
 * links to every page of docs/.
 */
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  codeSpans,
  documentationPages,
  headingAnchors,
  headingSlug,
  links,
  readPage,
  repositoryRoot,
  splitFences,
} from '../helpers/markdown.ts';

const pages = documentationPages();

/** Paths quoted that are not this repository's: each names whose it is. */
const pathsOfOtherRepositories = new Set([
  // aws-samples/amazon-elasticache-samples: AWS's Serverless cost estimator.
  'tools/serverless-cost-calculator',
]);

/** Folders of this repository whose paths the pages quote. */
const repositoryFolders = /^(functions|lua|infra|local|tools|bench|test|docs|\.ci)\//;

function brokenLinks(page: string, markdown = readPage(page)): string[] {
  const problems: string[] = [];
  for (const { target, line } of links(splitFences(markdown).prose)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
    const [path = '', fragment] = target.split('#', 2);
    const file = path === '' ? page : normalize(join(dirname(page), decodeURIComponent(path)));
    if (path !== '' && (file.startsWith('..') || !existsSync(join(repositoryRoot, file)))) {
      problems.push(`${page}:${line}: ${target}: no file ${file}`);
      continue;
    }
    if (fragment === undefined) continue;
    if (!file.endsWith('.md')) {
      problems.push(`${page}:${line}: ${target}: an anchor into a file that is not a page`);
    } else if (!headingAnchors(file === page ? markdown : readPage(file)).has(fragment)) {
      problems.push(`${page}:${line}: ${target}: ${file} has no heading #${fragment}`);
    }
  }
  return problems;
}

function missingQuotedPaths(page: string, markdown = readPage(page)): string[] {
  const problems: string[] = [];
  for (const { text, line } of codeSpans(splitFences(markdown).prose)) {
    // A path alone in its span; placeholders (<name>), globs and `…` are patterns, not paths.
    if (!repositoryFolders.test(text) || /[\s<>*…{]/.test(text)) continue;
    const path = text.replace(/\/$/, '');
    if (pathsOfOtherRepositories.has(path)) continue;
    if (!existsSync(join(repositoryRoot, path))) problems.push(`${page}:${line}: ${text}`);
  }
  return problems;
}

describe('headingSlug()', () => {
  it.each([
    ['Configuration of `apply-events`', 'configuration-of-apply-events'],
    ['Redis failures: waiting for a replica', 'redis-failures-waiting-for-a-replica'],
    ['Try it: two commands', 'try-it-two-commands'],
    ['`check-drift`, `replay` and the CLI', 'check-drift-replay-and-the-cli'],
    ['A broker that authenticates like MSK', 'a-broker-that-authenticates-like-msk'],
    [
      'Apply throughput (one local redis-server; median of 3)',
      'apply-throughput-one-local-redis-server-median-of-3',
    ],
  ])('makes %j the anchor GitHub makes, %j', (heading, anchor) => {
    expect(headingSlug(heading)).toBe(anchor);
  });

  it('numbers a repeated heading as GitHub does', () => {
    expect([...headingAnchors('# Notes\n\n## Notes\n\n```\n# not a heading\n```\n')]).toEqual([
      'notes',
      'notes-1',
    ]);
  });
});

describe('documentation links', () => {
  it('finds the pages: the README and docs/*.md', () => {
    expect(pages[0]).toBe('README.md');
    expect(pages.length).toBeGreaterThan(1);
  });

  it('reports a link to a missing file or heading, and passes one that exists', () => {
    const page = [
      '# Here',
      '[a](none.md) [b](#nowhere) [c](operations.md#nope) [d](../README.md#the-guarantee)',
      '[e](#here) [f](https://example.com/x) `[g](in-code.md)`',
      '```sh',
      '[h](in-a-fence.md)',
      '```',
    ].join('\n');
    expect(brokenLinks('docs/example.md', page)).toEqual([
      'docs/example.md:2: none.md: no file docs/none.md',
      'docs/example.md:2: #nowhere: docs/example.md has no heading #nowhere',
      'docs/example.md:2: operations.md#nope: docs/operations.md has no heading #nope',
    ]);
  });

  it('reports a quoted repository path that is not there, and passes one that is', () => {
    const page = '`lua/none-1.lua`, `bench/results.md`, `functions/<verb-noun>/`, `npm run demo`';
    expect(missingQuotedPaths('docs/example.md', page)).toEqual([
      'docs/example.md:1: lua/none-1.lua',
    ]);
  });

  it.each(pages)('%s: every relative link reaches a file, and its #anchor a heading', (page) => {
    expect(brokenLinks(page)).toEqual([]);
  });

  it.each(pages)('%s: every repository path quoted in code exists', (page) => {
    expect(missingQuotedPaths(page)).toEqual([]);
  });

  it('the README links to every page of docs/', () => {
    const linked = new Set(
      links(splitFences(readPage('README.md')).prose).map((l) => l.target.split('#')[0]),
    );
    expect(pages.filter((p) => p.startsWith('docs/') && !linked.has(p))).toEqual([]);
  });
});
