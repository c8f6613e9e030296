/**
 * No god functions: every function outside test/ fits in 120 lines, from its first line to its
 * last (issue 21, "No god functions"). A longer one is split into named phases (set up, run,
 * verify, report) or, in a construct, one private method or helper construct per concern.
 *
 * Functions are found with TypeScript's own parser: declarations, expressions, arrows, methods,
 * constructors and accessors, each counted on its own (a nested function counts in its parent
 * too). Generated files (`*.generated.ts`) are not written by hand and are left out.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/repo-root.ts';

const maxLines = 120;

interface FunctionLength {
  file: string;
  line: number;
  name: string;
  lines: number;
}

/** The name a reader would look for: `fn`, `Class.method`, `Class.constructor`, `<arrow>`. */
function nameOf(node: ts.SignatureDeclaration, source: ts.SourceFile): string {
  const owner = ts.isClassLike(node.parent) && node.parent.name ? `${node.parent.name.text}.` : '';
  if (ts.isConstructorDeclaration(node)) return `${owner}constructor`;
  if (node.name) return `${owner}${node.name.getText(source)}`;
  const parent = node.parent;
  if (
    (ts.isVariableDeclaration(parent) ||
      ts.isPropertyAssignment(parent) ||
      ts.isPropertyDeclaration(parent)) &&
    parent.initializer === node
  )
    return parent.name.getText(source);
  return ts.isArrowFunction(node) ? '<arrow>' : '<function>';
}

/** Every function-like node with a body in `text`, with its length in lines. */
function functionLengths(file: string, text: string): FunctionLength[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ file, line: first + 1, name: nameOf(node, source), lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const describeLength = (f: FunctionLength) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`;

/** The tracked .ts files the limit holds for: all but tests and generated files. */
function checkedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z', '--', '*.ts'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && !file.startsWith('test/') && !file.endsWith('.generated.ts'));
}

/** A source of one function `lines` lines long, from its declaration to its closing brace. */
function functionOfLines(lines: number): string {
  const body = Array.from({ length: lines - 2 }, (_, i) => `  const v${i} = ${i};`);
  return ['export function long(): void {', ...body, '}', ''].join('\n');
}

describe('functionLengths()', () => {
  it('counts a function from its first line to its last', () => {
    const [found] = functionLengths('long.ts', `// a header\n${functionOfLines(121)}`);
    expect(found).toEqual({ file: 'long.ts', line: 2, name: 'long', lines: 121 });
  });

  it('finds arrows, methods, constructors and accessors, and names them', () => {
    const text = [
      'const arrow = () => 1;',
      'class Box {',
      '  constructor() {}',
      '  get size() { return 1; }',
      '  set size(v: number) {}',
      '  open() { return [1].map((n) => n); }',
      '}',
      'export default function () {}',
      'declare function bodiless(): void;',
    ].join('\n');
    expect(functionLengths('box.ts', text).map((f) => f.name)).toEqual([
      'arrow',
      'Box.constructor',
      'Box.size',
      'Box.size',
      'Box.open',
      '<arrow>',
      '<function>',
    ]);
  });
});

describe('functions outside test/', () => {
  const files = checkedFiles();

  it('are read from the tracked files', () => {
    // A file list or a parser that found nothing would pass the limit below.
    expect(files).toContain('bench/run.ts');
    expect(files).not.toContain('core/redis/lua-scripts.generated.ts');
    const lengths = functionLengths(
      'bench/run.ts',
      readFileSync(join(repoRoot, 'bench/run.ts'), 'utf8'),
    );
    expect(lengths.map((f) => f.name)).toContain('main');
  });

  it(`fit in ${maxLines} lines each`, () => {
    const long = files
      .flatMap((file) => functionLengths(file, readFileSync(join(repoRoot, file), 'utf8')))
      .filter((f) => f.lines > maxLines)
      .map(describeLength);
    expect(long).toEqual([]);
  });

  it(`would name a function of ${maxLines + 1} lines, and pass one of ${maxLines}`, () => {
    const overLimit = functionLengths('long.ts', functionOfLines(maxLines + 1)).filter(
      (f) => f.lines > maxLines,
    );
    expect(overLimit.map(describeLength)).toEqual(['long.ts:1 long (121 lines)']);
    const atLimit = functionLengths('long.ts', functionOfLines(maxLines));
    expect(atLimit.filter((f) => f.lines > maxLines)).toEqual([]);
  });
});
