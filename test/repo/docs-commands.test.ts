/**
 * The commands the README and docs/*.md quote still run as written: every `npm run <script>`
 * names a script of package.json, and every `--flag` given to one of the project's own
 * programs (`npm run <script> -- …`, `npx node <file> …`, and the operator CLI's commands
 * quoted alone, `replay --topic T …`) is an option that program declares (its `parseArgs`
 * options).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  codeSpans,
  documentationPages,
  readPage,
  repositoryRoot,
  splitFences,
} from '../helpers/markdown.ts';

const scripts = (
  JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

interface QuotedCommand {
  text: string;
  line: number;
}

/** Command lines a page quotes: inline code and the lines of its shell blocks. */
function quotedCommands(markdown: string): QuotedCommand[] {
  const { prose, blocks } = splitFences(markdown);
  const shellLines = blocks
    .filter((b) => ['', 'sh', 'bash', 'shell'].includes(b.info))
    .flatMap((b) => b.lines.map((text, i) => ({ text, line: b.line + 1 + i })));
  return [...codeSpans(prose), ...shellLines]
    .map(({ text, line }) => ({ text: text.replace(/\s#\s.*$/, '').trim(), line }))
    .map(({ text, line }) => ({ text: operatorCommand(text) ?? text, line }))
    .filter(({ text }) => /\b(npm run|npx node)\s/.test(text));
}

/**
 * A command of the operator CLI quoted on its own (`replay --topic T …`), as the full command
 * it stands for; undefined for anything else.
 */
function operatorCommand(text: string): string | undefined {
  return /^(check|monitor|replay|rebuild|verify)\b.*--/.test(text)
    ? `npm run seqguard -- ${text}`
    : undefined;
}

/** Whether a program's source declares the option `name` (a parseArgs option). */
function declaresOption(source: string, name: string): boolean {
  const escaped = name.replace(/[-]/g, '\\-');
  return new RegExp(`(^|[\\s{,])(['"]?)${escaped}\\2\\s*:\\s*\\{\\s*type:`, 'm').test(source);
}

/** What is wrong with one quoted command, if anything. */
function commandProblems(command: string): string[] {
  const problems: string[] = [];
  for (const run of command.matchAll(/npm run ([\w:-]+)(?:\s+--\s+(.*))?/g)) {
    const script = run[1] as string;
    const body = scripts[script];
    if (body === undefined) {
      problems.push(`npm run ${script}: package.json has no script "${script}"`);
      continue;
    }
    if (run[2] === undefined) continue;
    // node, its own flags (--expose-gc), then the program.
    const program = /^node (?:--[\w-]+ )*(\S+\.ts)/.exec(body)?.[1];
    if (!program) {
      problems.push(`npm run ${script} -- …: "${body}" is not one of the project's programs`);
      continue;
    }
    problems.push(...flagProblems(program, run[2]));
  }
  for (const run of command.matchAll(/npx node (\S+\.ts)(.*)/g)) {
    problems.push(...flagProblems(run[1] as string, run[2] as string));
  }
  return problems;
}

function flagProblems(program: string, args: string): string[] {
  let source: string;
  try {
    source = readFileSync(join(repositoryRoot, program), 'utf8');
  } catch {
    return [`${program}: no such file`];
  }
  return [...args.matchAll(/(?:^|[\s[])--([a-z][a-z0-9-]*)/g)]
    .map((m) => m[1] as string)
    .filter((flag) => !declaresOption(source, flag))
    .map((flag) => `${program}: no option --${flag}`);
}

describe('declaresOption()', () => {
  it('finds parseArgs options, quoted or not, and nothing else', () => {
    const source = `parseArgs({ options: {\n  events: { type: 'string' },\n  'gap-rate': { type: 'string' },\n}});\nconst gap = 1;`;
    expect(declaresOption(source, 'events')).toBe(true);
    expect(declaresOption(source, 'gap-rate')).toBe(true);
    expect(declaresOption(source, 'gap')).toBe(false);
    expect(declaresOption(source, 'rate')).toBe(false);
  });
});

describe('commandProblems()', () => {
  it('reports an unknown script and an option the program does not declare', () => {
    expect(commandProblems('npm run no-such-script')).toEqual([
      'npm run no-such-script: package.json has no script "no-such-script"',
    ]);
    expect(commandProblems('npm run demo -- --events 10 --no-such-flag 1')).toEqual([
      'local/demo/main.ts: no option --no-such-flag',
    ]);
    // A script that runs node with flags of its own (bench: --expose-gc) is still checked.
    expect(commandProblems('npm run bench -- --nope')).toEqual(['bench/run.ts: no option --nope']);
    expect(
      commandProblems('npx node local/emulators/kafka/main.ts start --topic t [--nope]'),
    ).toEqual(['local/emulators/kafka/main.ts: no option --nope']);
    expect(quotedCommands('`replay --topic T --offset N`').map((c) => c.text)).toEqual([
      'npm run seqguard -- replay --topic T --offset N',
    ]);
    expect(commandProblems('npm run seqguard -- replay --topic T --offset N')).toEqual([
      'tools/seqguard.ts: no option --offset',
    ]);
  });
});

describe.each(documentationPages())('%s', (page) => {
  it('quotes only commands that run as written', () => {
    const problems = quotedCommands(readPage(page)).flatMap(({ text, line }) =>
      commandProblems(text).map((p) => `${page}:${line}: ${p}`),
    );
    expect(problems).toEqual([]);
  });
});
