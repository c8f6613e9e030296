/**
 * Resolves `--- @include "includes/<fn>"` lines, as BullMQ's script loader does: each include
 * is inlined where it is first named (its own includes first), and only once per script, so an
 * include names every include it needs and the order of definitions follows.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const luaDir = dirname(fileURLToPath(import.meta.url));
const includeLine = /^--- @include "([\w/]+)"\s*$/;

async function inline(file: string, seen: Set<string>): Promise<string> {
  const source = await readFile(file, 'utf8');
  const lines: string[] = [];
  for (const line of source.split('\n')) {
    const include = includeLine.exec(line);
    if (!include) {
      lines.push(line);
      continue;
    }
    const target = join(luaDir, `${include[1]}.lua`);
    if (seen.has(target)) continue;
    seen.add(target);
    lines.push(await inline(target, seen));
  }
  return lines.join('\n');
}

/** The text of a Lua file with its includes inlined (paths relative to lua/). */
export function resolveIncludes(file: string): Promise<string> {
  return inline(file, new Set());
}
