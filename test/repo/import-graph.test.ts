/**
 * The shape of the import graph, as the layout promises it (README, "Where things live"):
 * - core/ is the library. Everything outside it (the Lambda entries in functions/, the operator
 *   tools, the local runtime, the benchmarks, the CDK constructs, and users) imports it only
 *   through its public entries, core/index.ts (`seqguard`) and core/producer/index.ts
 *   (`seqguard/producer`).
 * - The core owns its vocabulary: the pure parts (the guard model, the event contract, the key
 *   layout and its codecs, the errors) import no adapter (Redis, Kafka) and no part that does I/O;
 *   the sink core and its port types import no adapter either; adapters import them, never the
 *   reverse.
 * - functions/ holds only the Lambda entries, one folder each, each a handler and its factory.
 * Imports are read with TypeScript's own pre-processor, so re-exports and dynamic imports count,
 * and private imports (package.json "imports") as the modules they name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '..', '..');

/** The public entries of the core: what `exports` in package.json names. */
const publicEntries = ['core/index.ts', 'core/producer/index.ts'];

/** Parts of the core that hold plain data and pure functions only. */
const pureParts = [
  'core/guard/',
  'core/events/',
  'core/layout/',
  'core/mutations/',
  // The Lua scripts as string constants (npm run lua): data the mutation registry builds on.
  'core/redis/lua-scripts.generated.ts',
  'core/errors.ts',
  'core/json.ts',
];
/** Parts of the core that talk to Redis or Kafka. */
const adapters = ['core/redis/', 'core/kafka/', 'core/sink/redis-ports.ts'];
/** The sink core and the port types it is written against. */
const sinkCore = [
  'core/sink/apply-records.ts',
  'core/sink/ports.ts',
  'core/sink/batch-response.ts',
];
/** Packages a pure part may use: schemas, and types only. */
const purePackages = new Set([
  'zod/mini',
  'typebox',
  'typebox/type',
  'typebox/compile',
  'aws-lambda',
  'node:buffer',
  // A registry names its scripts by a hash of their text.
  'node:crypto',
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

/** Every specifier a file imports, re-exports or loads dynamically. */
function specifiersOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(repoRoot, file), 'utf8'), true, true);
  return info.importedFiles.map((imported) => imported.fileName);
}

/** The package's private imports (`#kafka/has-records`), as repo paths. */
const privateImports: Record<string, string> = JSON.parse(
  readFileSync(join(repoRoot, 'package.json'), 'utf8'),
).imports;

/** The repo paths a file imports (relative specifiers and private imports). */
function importsOf(file: string): string[] {
  return specifiersOf(file).flatMap((specifier) => {
    if (specifier.startsWith('.')) return [repoPath(resolve(repoRoot, dirname(file), specifier))];
    const module = privateImports[specifier];
    return module === undefined ? [] : [repoPath(resolve(repoRoot, module))];
  });
}

const within = (path: string, parts: readonly string[]) =>
  parts.some((part) => (part.endsWith('/') ? path.startsWith(part) : path === part));

const outsideFolders = ['functions', 'tools', 'local', 'bench', 'infra'];
const edgesFrom = (folders: readonly string[]) =>
  folders.flatMap(sourceFiles).flatMap((from) => importsOf(from).map((to) => ({ from, to })));
const coreEdges = edgesFrom(['core']);
const outsideEdges = edgesFrom(outsideFolders);

describe('the import graph', () => {
  it('is read: the sink core imports its ports, the handlers import the public entry', () => {
    // A reader that found no imports would pass every rule below.
    expect(coreEdges.length).toBeGreaterThan(50);
    expect(outsideEdges.length).toBeGreaterThan(50);
    expect(importsOf('core/sink/apply-records.ts')).toContain('core/sink/ports.ts');
    expect(importsOf('functions/apply-events/create-handler.ts')).toContain('core/index.ts');
    expect(importsOf('core/sink/redis-ports.ts')).toContain('core/kafka/has-records.ts');
  });

  it('reaches the core from outside only through its public entries', () => {
    const deep = outsideEdges.filter(
      ({ to }) => to.startsWith('core/') && !publicEntries.includes(to),
    );
    expect(deep).toEqual([]);
  });

  it('has the core import nothing outside itself, nor its own public entries', () => {
    const leaving = coreEdges.filter(
      ({ from, to }) =>
        !to.startsWith('core/') || (publicEntries.includes(to) && !publicEntries.includes(from)),
    );
    expect(leaving).toEqual([]);
  });

  it('keeps the pure parts pure: no adapter, no I/O part, no package beyond schemas', () => {
    const pureFiles = sourceFiles('core').filter((file) => within(file, pureParts));
    expect(pureFiles).toContain('core/guard/model.ts');
    const impure = pureFiles.flatMap((from) =>
      importsOf(from)
        .filter((to) => !within(to, pureParts))
        .map((to) => ({ from, to })),
    );
    expect(impure).toEqual([]);
    const packages = pureFiles.flatMap((from) =>
      specifiersOf(from)
        .filter((specifier) => !specifier.startsWith('.') && !purePackages.has(specifier))
        .map((specifier) => ({ from, specifier })),
    );
    expect(packages).toEqual([]);
  });

  it('keeps the sink core and its ports free of adapters: adapters import them', () => {
    const reversed = coreEdges.filter(
      ({ from, to }) => within(from, sinkCore) && within(to, adapters),
    );
    expect(reversed).toEqual([]);
    // The vocabulary goes the other way: the Redis adapters take their types from the ports.
    expect(importsOf('core/redis/ledger.ts')).toContain('core/sink/ports.ts');
    expect(importsOf('core/redis/dead-letter.ts')).toContain('core/sink/ports.ts');
  });

  it('has no Lambda entry reaching into another function, the tools, the runtime or tests', () => {
    const crossings = edgesFrom(['functions']).filter(({ from, to }) => {
      if (publicEntries.includes(to)) return false;
      // seqguard/functions gathers the three factories.
      if (from === 'functions/index.ts') return !/^functions\/[^/]+\/create-handler\.ts$/.test(to);
      return dirname(from) !== dirname(to);
    });
    expect(crossings).toEqual([]);
  });

  it('has infra/ import nothing of the tools, the local runtime, the benchmarks or tests', () => {
    const imports = edgesFrom(['infra']);
    expect(imports.some(({ to }) => to === 'core/index.ts')).toBe(true);
    expect(imports.filter(({ to }) => /^(tools|local|bench|test)\//.test(to))).toEqual([]);
  });

  it("has infra/'s app use the constructs as a user would: through seqguard/cdk's entry only", () => {
    const app = ['infra/app.ts', 'infra/seqguard-app.ts'];
    const imports = edgesFrom(['infra']).filter(({ from }) => app.includes(from));
    expect(imports.map(({ to }) => to)).toContain('infra/index.ts');
    const around = imports.filter(({ to }) => !app.includes(to) && to !== 'infra/index.ts');
    expect(around).toEqual([]);
  });
});

describe('functions/', () => {
  it('holds one folder per Lambda entry, each a handler and its factory, and their entry', () => {
    const entries = readdirSync(join(repoRoot, 'functions')).sort();
    expect(entries).toContain('index.ts');
    const folders = entries.filter((entry) => entry !== 'index.ts');
    expect(folders).toEqual(['apply-events', 'check-drift', 'replay']);
    for (const folder of folders) {
      expect(readdirSync(join(repoRoot, 'functions', folder)).sort(), folder).toEqual([
        'create-handler.ts',
        'handler.ts',
      ]);
    }
  });
});

describe('local/', () => {
  const localEdges = edgesFrom(['local']);
  const scenarioParts = /^local\/(scenario|demo|soak)\//;

  it('keeps the emulators apart from the scenarios that run on them', () => {
    expect(localEdges.some(({ from }) => from.startsWith('local/emulators/'))).toBe(true);
    const upward = localEdges.filter(
      ({ from, to }) => from.startsWith('local/emulators/') && scenarioParts.test(to),
    );
    expect(upward).toEqual([]);
  });

  it('has what the scenarios share import neither the demo nor the soak', () => {
    const upward = localEdges.filter(
      ({ from, to }) => from.startsWith('local/scenario/') && /^local\/(demo|soak)\//.test(to),
    );
    expect(upward).toEqual([]);
  });

  it('lends the benchmarks and the tools only the emulators and the shared parts', () => {
    const imports = edgesFrom(['bench', 'tools']).filter(({ to }) => to.startsWith('local/'));
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter(({ to }) => /^local\/(demo|soak)\//.test(to))).toEqual([]);
  });

  it('has no file and folder of one name side by side', () => {
    const entries = readdirSync(join(repoRoot, 'local'), { recursive: true, withFileTypes: true });
    const folders = new Set(
      entries.filter((e) => e.isDirectory()).map((e) => repoPath(join(e.parentPath, e.name))),
    );
    const twins = entries
      .filter((e) => e.isFile())
      .map((e) => repoPath(join(e.parentPath, e.name)))
      .filter((file) => folders.has(file.replace(/\.[^./]+$/, '')));
    expect(twins).toEqual([]);
  });
});
