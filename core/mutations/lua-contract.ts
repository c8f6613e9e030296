/**
 * Reads and checks the Lua body of a mutation: its contract header, its functions, and that every
 * key it touches is one of its keys. A body breaks no rule here, or registration fails with a
 * MutationDefinitionError naming the mutation and the rule.
 *
 * The header, a comment block at the top of the body:
 *
 *   --[[
 *     @mutation debit
 *     @keys key
 *     @args field amount floor
 *     @refuses insufficient
 *     (what it does, in prose)
 *   ]]
 *
 * then `local function applyDebit(ctx, key, field, amount, floor)` and, when it refuses,
 * `local function refuseDebit(...)` with the same parameters: `ctx`, the keys, the arguments.
 */
import { MutationDefinitionError } from '../errors.ts';

export interface LuaContract {
  name: string;
  keys: string[];
  args: string[];
  refusals: string[];
  /** The functions the body defines: apply<Name>, and refuse<Name> when it refuses. */
  apply: string;
  refuse: string | undefined;
}

/** `debit` -> `Debit`: the suffix of the body's function names. */
export function functionSuffix(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function tagValues(header: string, tag: string): string[] | undefined {
  const line = new RegExp(`^\\s*@${tag}\\b(.*)$`, 'm').exec(header);
  if (line === null) return undefined;
  return (line[1] ?? '').trim().split(/\s+/).filter(Boolean);
}

/** Keyless commands a mutation may call: none touch another key. */
const keylessCommands = new Set(['TIME']);

/**
 * Every redis.call / redis.pcall must name its command as a literal, and its first key must be a
 * key parameter or ctx.versions: a body cannot reach a key outside its shard's hash slot (which
 * a cluster would refuse, and which a single Redis would silently allow), nor any key the guard
 * keeps. It may not read KEYS or ARGV either.
 */
function checkKeys(mutation: string, lua: string, keys: readonly string[]): void {
  if (/\b(KEYS|ARGV)\s*\[/.test(lua)) {
    throw new MutationDefinitionError(
      mutation,
      'its Lua reads KEYS or ARGV; a mutation reaches its keys only through its key parameters',
    );
  }
  const allowed = new Set([...keys, 'ctx.versions']);
  const call = /redis\s*\.\s*p?call\s*\(([^)]*)/g;
  for (const match of lua.matchAll(call)) {
    const parts = (match[1] ?? '').split(',').map((part) => part.trim());
    const command = /^'([A-Za-z]+)'$|^"([A-Za-z]+)"$/.exec(parts[0] ?? '');
    const line = lua.slice(0, match.index).split('\n').length;
    if (command === null) {
      throw new MutationDefinitionError(
        mutation,
        `line ${line}: a Redis command must be named by a literal ("${parts[0]}")`,
      );
    }
    const name = (command[1] ?? command[2] ?? '').toUpperCase();
    if (keylessCommands.has(name)) continue;
    const key = parts[1] ?? '';
    if (!allowed.has(key)) {
      throw new MutationDefinitionError(
        mutation,
        `line ${line}: ${name} names the key "${key}", which is not one of its keys (${[...allowed].join(', ')}): every key a mutation touches must be a key parameter, so it stays in its shard's hash slot`,
      );
    }
  }
}

/** The parameters of `local function <name>(...)` in the body, or undefined when it has none. */
function parameters(lua: string, name: string): string[] | undefined {
  const match = new RegExp(`local\\s+function\\s+${name}\\s*\\(([^)]*)\\)`).exec(lua);
  if (match === null) return undefined;
  return (match[1] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** Reads the contract of a mutation's Lua body; `expected` is the definition's name. */
export function readLuaContract(expected: string, lua: string): LuaContract {
  const headerMatch = /^\s*--\[\[([\s\S]*?)\]\]/.exec(lua);
  const header = headerMatch?.[1];
  const name = header === undefined ? undefined : tagValues(header, 'mutation')?.[0];
  if (header === undefined || name === undefined) {
    throw new MutationDefinitionError(
      expected,
      'its Lua has no contract header: it must open with a --[[ ]] block naming @mutation, @keys and @args',
    );
  }
  if (name !== expected) {
    throw new MutationDefinitionError(expected, `its Lua header names the mutation "${name}"`);
  }
  const keys = tagValues(header, 'keys');
  const args = tagValues(header, 'args');
  if (keys === undefined || keys.length === 0 || args === undefined) {
    throw new MutationDefinitionError(
      expected,
      'its Lua header must list @keys (at least one) and @args (may be empty)',
    );
  }
  if (/^\s*---\s*@include/m.test(lua)) {
    throw new MutationDefinitionError(
      expected,
      'its Lua has an @include: mutation bodies use the helpers every script already has (docs/your-own-mutation.md)',
    );
  }
  const refusals = tagValues(header, 'refuses') ?? [];
  const suffix = functionSuffix(expected);
  const wanted = ['ctx', ...keys, ...args];
  const apply = `apply${suffix}`;
  const refuse = `refuse${suffix}`;
  for (const fn of refusals.length > 0 ? [apply, refuse] : [apply]) {
    const params = parameters(lua, fn);
    if (params === undefined) {
      throw new MutationDefinitionError(
        expected,
        `its Lua does not define local function ${fn}(${wanted.join(', ')})`,
      );
    }
    if (params.join(',') !== wanted.join(',')) {
      throw new MutationDefinitionError(
        expected,
        `${fn} takes (${params.join(', ')}), but its header says (${wanted.join(', ')})`,
      );
    }
  }
  if (refusals.length === 0 && parameters(lua, refuse) !== undefined) {
    throw new MutationDefinitionError(
      expected,
      `its Lua defines ${refuse} but its header lists no @refuses reasons`,
    );
  }
  checkKeys(expected, lua.slice(headerMatch?.[0].length ?? 0), keys);
  return { name, keys, args, refusals, apply, refuse: refusals.length > 0 ? refuse : undefined };
}
