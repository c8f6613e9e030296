/**
 * Just enough Markdown reading for the documentation tests: the README and docs/*.md, their
 * headings' anchors as GitHub makes them, their links, and the code they quote (inline spans and
 * fenced blocks), each with the line it starts on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository's root, from this file's place in it. */
export const repositoryRoot = join(import.meta.dirname, '..', '..');

/** The documentation pages, by repository path: README.md, then docs/*.md. */
export function documentationPages(root = repositoryRoot): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

export function readPage(page: string, root = repositoryRoot): string {
  return readFileSync(join(root, page), 'utf8');
}

export interface FencedBlock {
  /** The info string after the opening fence (`sh`, `json`, `mermaid`, or empty). */
  info: string;
  lines: string[];
  /** 1-based line of the opening fence. */
  line: number;
}

export interface PageParts {
  /** The page with every fenced block's lines blanked, so line numbers stay. */
  prose: string;
  blocks: FencedBlock[];
}

/** Splits a page into its prose and its fenced code blocks (``` or ~~~ fences). */
export function splitFences(markdown: string): PageParts {
  const lines = markdown.replace(/\r\n/g, '\n').split('\n');
  const prose: string[] = [];
  const blocks: FencedBlock[] = [];
  let open: { fence: string; block: FencedBlock } | undefined;
  lines.forEach((text, index) => {
    const fence = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/.exec(text);
    if (open) {
      if (fence?.[1]?.startsWith(open.fence) && text.trim() === fence[1]) open = undefined;
      else open.block.lines.push(text);
      prose.push('');
    } else if (fence?.[1]) {
      open = { fence: fence[1], block: { info: fence[2] ?? '', lines: [], line: index + 1 } };
      blocks.push(open.block);
      prose.push('');
    } else {
      prose.push(text);
    }
  });
  return { prose: prose.join('\n'), blocks };
}

export interface CodeSpan {
  /** The span's text, its line breaks turned into spaces. */
  text: string;
  line: number;
}

/** Inline code spans of the prose (single backticks; a span may run over a line break). */
export function codeSpans(prose: string): CodeSpan[] {
  const spans: CodeSpan[] = [];
  for (const match of prose.matchAll(/(?<!`)`([^`]+)`(?!`)/g)) {
    const line = prose.slice(0, match.index).split('\n').length;
    spans.push({ text: (match[1] as string).replace(/\s*\n\s*/g, ' '), line });
  }
  return spans;
}

export interface Link {
  text: string;
  target: string;
  line: number;
}

/** Inline links `[text](target)` of the prose, outside code spans. */
export function links(prose: string): Link[] {
  // Code spans may hold brackets and parentheses that are not links: blank them, keeping lines.
  const withoutCode = prose.replace(/`[^`]+`/g, (span) => span.replace(/[^\n]/g, ' '));
  const found: Link[] = [];
  for (const match of withoutCode.matchAll(/\[([^\]]*)\]\(([^)\s]+)\)/g)) {
    const line = withoutCode.slice(0, match.index).split('\n').length;
    found.push({ text: match[1] as string, target: match[2] as string, line });
  }
  return found;
}

/**
 * The anchor GitHub gives a heading (github-slugger): the heading's text as rendered (code
 * spans, emphasis and links reduced to their text), lower-cased, everything but letters, marks,
 * digits, connector punctuation (`_`), hyphens and spaces removed, spaces turned into hyphens.
 */
export function headingSlug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/\*/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor of a page's headings, repeated ones numbered as GitHub numbers them (-1, -2…). */
export function headingAnchors(markdown: string): Set<string> {
  const { prose } = splitFences(markdown);
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose.split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = headingSlug(heading[1] as string);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/**
 * The fenced blocks marked by a comment on the line just above them (`<!-- example:app.ts -->`),
 * by the marker's first capture.
 */
export function codeBlocksAfter(markdown: string, marker: RegExp): Map<string, string> {
  const lines = markdown.replace(/\r\n/g, '\n').split('\n');
  const marked = new Map<string, string>();
  for (const block of splitFences(markdown).blocks) {
    const name = marker.exec(lines[block.line - 2] ?? '')?.[1];
    if (name !== undefined) marked.set(name, `${block.lines.join('\n')}\n`);
  }
  return marked;
}
