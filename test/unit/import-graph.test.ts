/**
 * The shape of the import graph, as the layout promises it (README, file map): a Lambda function
 * folder imports only itself and functions/shared/, shared code imports no function, nothing in
 * functions/ reaches out of it (to the operator tools in tools/, the local runtime, the
 * benchmarks or the tests), and functions/ holds what a Lambda function bundles. Imports are read
 * with TypeScript's own pre-processor, so re-exports and dynamic imports count too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '..', '..');

/**
 * Modules in functions/ that no Lambda bundles, on purpose: libraries other deployables share
 * with the functions, kept beside what they derive from.
 */
const sharedBeyondTheFunctions = new Map([
  // The hardened producer for upstream services (and the demo, the soak, the tests).
  ['functions/shared/kafka/producer.ts', 'the producer library'],
  ['functions/shared/kafka/sequencer.ts', "the producer's seq source"],
  // The app user's ACL, derived from keys.ts: the CDK stack and the local Redis grant it.
  ['functions/shared/redis/access-string.ts', "the app user's ACL"],
]);

/** Every .ts file under `folder`, as a repo path with forward slashes. */
function sourceFiles(folder: string): string[] {
  return readdirSync(join(repoRoot, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => repoPath(join(entry.parentPath, entry.name)));
}

function repoPath(absolute: string): string {
  return relative(repoRoot, absolute).split(sep).join('/');
}

/** The repo paths a file imports (relative specifiers only: packages are not the point here). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(repoRoot, file), 'utf8'), true, true);
  return info.importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => repoPath(resolve(repoRoot, dirname(file), specifier)));
}

/** `functions/<name>/…` -> `<name>`; undefined outside functions/. */
function functionFolder(path: string): string | undefined {
  return /^functions\/([^/]+)\//.exec(path)?.[1];
}

const graph = new Map(sourceFiles('functions').map((file) => [file, importsOf(file)]));
const edges = [...graph].flatMap(([from, targets]) => targets.map((to) => ({ from, to })));

describe('the import graph of functions/', () => {
  it('is read: the handlers reach the sink core through their imports', () => {
    // A reader that found no imports would pass every rule below.
    expect(edges.length).toBeGreaterThan(50);
    expect(graph.get('functions/apply-events/create-handler.ts')).toContain(
      'functions/shared/sink/apply-records.ts',
    );
  });

  it('has no function folder importing another, and no shared module importing a function', () => {
    const crossings = edges.filter(({ from, to }) => {
      const target = functionFolder(to);
      if (target === undefined || target === 'shared') return false;
      return functionFolder(from) !== target;
    });
    expect(crossings).toEqual([]);
  });

  it('reaches nothing outside functions/: no operator tool, local runtime, benchmark or test', () => {
    const outside = edges.filter(({ to }) => !to.startsWith('functions/'));
    expect(outside).toEqual([]);
  });

  it('holds only what a Lambda function bundles, besides the named shared libraries', () => {
    // Prepare: what the three entries (infra's bundling entries) reach.
    const entries = [...graph.keys()].filter((file) =>
      /^functions\/[^/]+\/handler\.ts$/.test(file),
    );
    const bundled = new Set<string>();
    const visit = (file: string) => {
      if (bundled.has(file)) return;
      bundled.add(file);
      for (const next of graph.get(file) ?? []) visit(next);
    };
    entries.forEach(visit);

    // Assess
    expect(entries).toHaveLength(3);
    const unbundled = [...graph.keys()].filter(
      (file) => !bundled.has(file) && !sharedBeyondTheFunctions.has(file),
    );
    expect(unbundled).toEqual([]);
    for (const file of sharedBeyondTheFunctions.keys()) expect(bundled.has(file), file).toBe(false);
  });
});

describe('the import graph of infra/', () => {
  it('imports nothing of the operator tools or the local runtime: a stack deploys functions/ only', () => {
    const imports = sourceFiles('infra').flatMap((from) =>
      importsOf(from).map((to) => ({ from, to })),
    );
    expect(imports.some(({ to }) => to.startsWith('functions/shared/'))).toBe(true);
    expect(imports.filter(({ to }) => /^(tools|local|bench|test)\//.test(to))).toEqual([]);
  });
});
