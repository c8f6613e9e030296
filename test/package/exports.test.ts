/**
 * The public entries are a promise: every name each entry exports is listed in docs/api.md under
 * the entry's heading, and nothing is listed that the entry does not export. The names are read
 * with TypeScript's checker, so re-exports and types count.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { packageEntries } from '../../tools/pack.ts';
import { repoRoot } from '../helpers/repo-root.ts';

/** `.` -> `seqguard`, `./cdk` -> `seqguard/cdk`. */
const importName = (subpath: string) => `seqguard${subpath.slice(1)}`;

function exportedNames(): Map<string, string[]> {
  const files = Object.values(packageEntries).map((module) => join(repoRoot, `${module}.ts`));
  const program = ts.createProgram(files, {
    allowImportingTsExtensions: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2024,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  return new Map(
    Object.entries(packageEntries).map(([subpath, module]) => {
      const source = program.getSourceFile(join(repoRoot, `${module}.ts`));
      const symbol = source && checker.getSymbolAtLocation(source);
      if (!symbol) throw new Error(`${module}.ts: no module symbol`);
      const names = checker.getExportsOfModule(symbol).map((s) => s.name);
      return [importName(subpath), names.sort()];
    }),
  );
}

/** The backticked names of each `## \`entry\`` section's list items. */
function documentedNames(markdown: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  let inList = false;
  for (const line of markdown.split('\n')) {
    const heading = /^## `([^`]+)`$/.exec(line);
    if (heading) {
      current = [];
      sections.set(heading[1] as string, current);
      inList = false;
      continue;
    }
    if (line.startsWith('## ')) current = undefined;
    if (!current) continue;
    if (line.startsWith('- ')) inList = true;
    else if (line.trim() === '') inList = false;
    if (!inList) continue;
    for (const match of line.matchAll(/`([A-Za-z_$][\w$]*)`/g)) current.push(match[1] as string);
  }
  for (const [entry, names] of sections) sections.set(entry, [...new Set(names)].sort());
  return sections;
}

describe('the public entries', () => {
  const exported = exportedNames();
  const documented = documentedNames(readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8'));

  it('are the four the package names, each documented in docs/api.md', () => {
    expect([...exported.keys()]).toEqual([
      'seqguard',
      'seqguard/producer',
      'seqguard/functions',
      'seqguard/cdk',
    ]);
    expect([...documented.keys()].sort()).toEqual([...exported.keys()].sort());
  });

  it.each(['seqguard', 'seqguard/producer', 'seqguard/functions', 'seqguard/cdk'])(
    '%s: exports exactly what docs/api.md lists',
    (entry) => {
      const names = exported.get(entry) ?? [];
      // The smallest entry, seqguard/functions, has three factories and their three types.
      expect(names.length).toBeGreaterThanOrEqual(6);
      const listed = new Set(documented.get(entry));
      expect(names.filter((name) => !listed.has(name))).toEqual([]);
      expect([...listed].filter((name) => !names.includes(name))).toEqual([]);
    },
  );

  it('reads a section of the page as its list, and a name missing from it shows', () => {
    const page = '## `seqguard`\n\nProse with `notAnExport`.\n\n- Group: `a`, `b`.\n- `c`\n';
    expect(documentedNames(page).get('seqguard')).toEqual(['a', 'b', 'c']);
  });
});
