/**
 * Registration (core/mutations/registry.ts): a malformed definition fails with a message naming
 * the mutation and what is wrong, and a well-formed one is put into the guard's scripts.
 */
import { describe, expect, it } from 'vitest';
import { MutationDefinitionError } from '../../../core/errors.ts';
import { fields } from '../../../core/events/fields.ts';
import { builtinMutations, defaultMutations } from '../../../core/mutations/builtins/index.ts';
import { defineMutation, type MutationDefinition } from '../../../core/mutations/define.ts';
import { createMutationRegistry } from '../../../core/mutations/registry.ts';
import { cappedCounterMutation } from '../../../local/scenario/capped-counter.ts';

/** A well-formed definition to break one part of at a time. */
function tally(lua?: string): MutationDefinition {
  return defineMutation({
    name: 'tally',
    summary: 'adds one to a counter',
    data: { key: fields.stateName, field: fields.target },
    keys: ['key'],
    args: ['field'],
    targets: { key: 'field' },
    lua:
      lua ??
      `--[[
  @mutation tally
  @keys key
  @args field
]]
local function applyTally(ctx, key, field)
  return rejectionOf(redis.pcall('HINCRBY', key, field, 1))
end
`,
    model: { apply: () => undefined },
  }) as MutationDefinition;
}

function refusal(definitions: readonly MutationDefinition[]): string {
  try {
    createMutationRegistry(definitions);
  } catch (error) {
    expect(error).toBeInstanceOf(MutationDefinitionError);
    return (error as Error).message;
  }
  throw new Error('registered');
}

describe('createMutationRegistry()', () => {
  it('registers the built-ins and a mutation of our own into the guard and the swap', () => {
    // Act
    const registry = createMutationRegistry([...builtinMutations, tally()]);
    // Assess
    expect(registry.names).toEqual([...defaultMutations.names, 'tally']);
    expect(registry.applyBatch.lua).toContain('MUTATIONS["tally"]');
    expect(registry.applyBatch.lua).toContain('local function applyTally(ctx, key, field)');
    expect(registry.swapRebuilt.lua).toContain('MUTATIONS["tally"]');
    expect(registry.applyBatch.lua).not.toMatch(/^--- @mutations/m);
    // Another list, another script: the command names differ, so one client serves both.
    expect(registry.applyBatch.name).not.toBe(defaultMutations.applyBatch.name);
  });

  it('refuses two mutations of one name', () => {
    expect(refusal([tally(), tally()])).toBe('mutation "tally": two mutations have this name');
    expect(refusal([...builtinMutations, { ...tally(), name: 'debit' }])).toMatch(
      /^mutation "debit": /,
    );
  });

  it('refuses a Lua body without its contract header', () => {
    const lua = 'local function applyTally(ctx, key, field)\n  return nil\nend\n';
    expect(refusal([tally(lua)])).toMatch(/^mutation "tally": its Lua has no contract header/);
  });

  it('refuses a definition without a model', () => {
    const noModel = { ...tally(), model: undefined } as unknown as MutationDefinition;
    expect(refusal([noModel])).toBe('mutation "tally": it has no model (model.apply)');
  });

  it("refuses a schema that does not match the Lua's arguments", () => {
    // The definition takes (field, amount); the Lua's header and function take (field).
    const definition = {
      ...tally(),
      data: { key: fields.stateName, field: fields.target, amount: fields.uint63 },
      args: ['field', 'amount'],
    } as MutationDefinition;
    expect(refusal([definition])).toBe(
      'mutation "tally": its Lua\'s @args (field) are not its args (field amount)',
    );
    // The header and the function disagree.
    const lua = tally().lua.replace('applyTally(ctx, key, field)', 'applyTally(ctx, key, member)');
    expect(refusal([tally(lua)])).toBe(
      'mutation "tally": applyTally takes (ctx, key, member), but its header says (ctx, key, field)',
    );
    // A data field neither a key nor an argument.
    const unused = {
      ...tally(),
      data: { ...tally().data, note: fields.scalar },
    } as MutationDefinition;
    expect(refusal([unused])).toBe(
      'mutation "tally": data field "note" is in neither keys nor args',
    );
  });

  it('refuses a refusal reason the Lua does not list, and refusals without refuse()', () => {
    const definition = { ...tally(), refusals: ['empty'] } as MutationDefinition;
    expect(refusal([definition])).toBe(
      'mutation "tally": it lists refusals but its model has no refuse()',
    );
    const withRefuse = {
      ...definition,
      model: { apply: () => undefined, refuse: () => undefined },
    } as MutationDefinition;
    expect(refusal([withRefuse])).toBe(
      'mutation "tally": its Lua\'s @refuses () are not its refusals (empty)',
    );
  });

  it('refuses a definition that could name a key outside its shard', () => {
    // A key built from text: on a cluster it may hash to another slot.
    const built = tally().lua.replace(
      "redis.pcall('HINCRBY', key, field, 1)",
      "redis.pcall('HINCRBY', 'totals:' .. field, field, 1)",
    );
    expect(refusal([tally(built)])).toMatch(
      /^mutation "tally": line \d+: HINCRBY names the key "'totals:' \.\. field", which is not one of its keys \(key, ctx\.versions\)/,
    );
    // KEYS and ARGV are the guard's, not the mutation's.
    const keys = tally().lua.replace(
      "redis.pcall('HINCRBY', key,",
      "redis.pcall('HINCRBY', KEYS[1],",
    );
    expect(refusal([tally(keys)])).toMatch(/its Lua reads KEYS or ARGV/);
    // A key taken from a data field that is not a state name.
    const notAStateName = {
      ...tally(),
      data: { key: fields.target, field: fields.target },
    } as MutationDefinition;
    expect(refusal([notAStateName])).toMatch(
      /^mutation "tally": key "key" is not of kind stateName/,
    );
    // A command named by a variable could be anything.
    const dynamic = tally().lua.replace("redis.pcall('HINCRBY',", 'redis.pcall(command,');
    expect(refusal([tally(dynamic)])).toMatch(/a Redis command must be named by a literal/);
  });

  it('refuses a name that is not a word, and an include', () => {
    expect(refusal([{ ...tally(), name: 'Tally-1' }])).toMatch(/^mutation "Tally-1": a name is/);
    const include = `--- @include "includes/layout"\n${tally().lua}`;
    expect(refusal([tally(include)])).toMatch(/no contract header|has an @include/);
  });
});

describe('registry.mutation()', () => {
  it('reads event data as the decoder does, defaults filled in', () => {
    expect(
      defaultMutations.mutation('transfer', { key: 'w', from: 'a', to: 'b', amount: 5 }),
    ).toEqual({
      op: 'transfer',
      keys: ['w', 'w'],
      args: ['a', 'b', '5', '0'],
    });
    expect(
      defaultMutations.mutation('debit', { key: 'w', field: 'a', amount: '7', floor: -100 }),
    ).toEqual({ op: 'debit', keys: ['w'], args: ['a', '7', '-100'] });
  });

  it('refuses data the decoder refuses, naming the fields', () => {
    expect(() => defaultMutations.mutation('debit', { key: 'w', field: 'a', amount: -1 })).toThrow(
      /^debit: data\.amount: must be an integer from 0/,
    );
    expect(() =>
      defaultMutations.mutation('transfer', { key: 'w', from: 'a', to: 'a', amount: 1 }),
    ).toThrow('transfer: a transfer to itself (the same key and field)');
    expect(() => defaultMutations.mutation('nope', {})).toThrow(
      '"nope" is not a registered mutation',
    );
  });
});

describe('the worked example, local/scenario/capped-counter.ts', () => {
  it('registers beside the built-ins', () => {
    const registry = createMutationRegistry([...builtinMutations, cappedCounterMutation]);
    expect(registry.get('cappedIncr')?.contract.refusals).toEqual(['capped']);
  });
});
