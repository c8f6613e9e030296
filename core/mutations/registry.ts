/**
 * The registration list: createMutationRegistry() takes mutation definitions (define.ts), checks
 * each one (a malformed one throws MutationDefinitionError naming it), and gives everything that
 * handles mutations what it needs of them: the compiled check of each event type, the reading of
 * an event's data into a Mutation, the model, the running sums, and the guard's scripts with every
 * registered body and its dispatch built in. The Lua is code, bundled at build time
 * (`npm run lua`) or given by the definition; nothing of it comes from event data.
 */
import { createHash } from 'node:crypto';
import { Compile } from 'typebox/compile';
import { MutationDefinitionError } from '../errors.ts';
import type { Field, Issue } from '../events/fields.ts';
import { envelopeSchemaOf } from '../events/schema.ts';
import type { Mutation } from '../events/types.ts';
import * as scripts from '../redis/lua-scripts.generated.ts';
import type {
  MutationData,
  MutationDefinition,
  MutationRegistry,
  RegisteredMutation,
} from './define.ts';
import { type LuaContract, readLuaContract } from './lua-contract.ts';

export type { MutationRegistry, RegisteredMutation, RegistryScript } from './define.ts';

const namePattern = /^[a-z][A-Za-z0-9]*$/;
const reasonPattern = /^[a-z][A-Za-z0-9]*$/;

function fail(name: string, problem: string): never {
  throw new MutationDefinitionError(name, problem);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The definition's own rules, and its agreement with its Lua's contract. */
function checkDefinition(definition: MutationDefinition): LuaContract {
  const { name } = definition;
  if (typeof name !== 'string' || !namePattern.test(name)) {
    fail(String(name), 'a name is a lowercase letter, then letters and digits');
  }
  if (typeof definition.model?.apply !== 'function') fail(name, 'it has no model (model.apply)');
  if (typeof definition.lua !== 'string') fail(name, 'it has no Lua body');
  const fieldNames = Object.keys(definition.data ?? {});
  const { keys, args } = definition;
  if (keys.length === 0) fail(name, 'it names no key (keys)');
  const listed = [...keys, ...args];
  for (const field of listed) {
    if (!fieldNames.includes(field)) fail(name, `"${field}" is in keys or args but not in data`);
  }
  if (new Set(listed).size !== listed.length)
    fail(name, 'a field is listed twice in keys and args');
  for (const field of fieldNames) {
    if (!listed.includes(field)) fail(name, `data field "${field}" is in neither keys nor args`);
    const kind = (definition.data as Record<string, Field>)[field] as Field;
    if (kind.optional && definition.defaults?.[field] === undefined) {
      fail(name, `optional field "${field}" has no default`);
    }
  }
  for (const key of keys) {
    const kind = (definition.data as Record<string, Field>)[key] as Field;
    if (!kind.stateName) {
      fail(
        name,
        `key "${key}" is not of kind stateName: a key must name a state of the event's shard, so it shares the shard's hash slot`,
      );
    }
    const target = definition.targets?.[key];
    if (target === undefined || !args.includes(target)) {
      fail(name, `key "${key}" names no target among the args (targets)`);
    }
  }
  const refusals = definition.refusals ?? [];
  for (const reason of refusals) {
    if (!reasonPattern.test(reason)) fail(name, `refusal "${reason}" is not a lowercase word`);
  }
  if (refusals.length > 0 && typeof definition.model.refuse !== 'function') {
    fail(name, 'it lists refusals but its model has no refuse()');
  }
  const contract = readLuaContract(name, definition.lua);
  if (!sameList(contract.keys, keys)) {
    fail(name, `its Lua's @keys (${contract.keys.join(' ')}) are not its keys (${keys.join(' ')})`);
  }
  if (!sameList(contract.args, args)) {
    fail(name, `its Lua's @args (${contract.args.join(' ')}) are not its args (${args.join(' ')})`);
  }
  if (!sameList([...contract.refusals].sort(), [...refusals].sort())) {
    fail(
      name,
      `its Lua's @refuses (${contract.refusals.join(' ')}) are not its refusals (${refusals.join(' ')})`,
    );
  }
  return contract;
}

/** Lua's text of an event row's element i (1-based). */
const at = (i: number) => `e[${i}]`;

/**
 * The dispatch of one mutation: its body in a block of its own (its locals stay there), and its
 * row of MUTATIONS. An event row is [field, seq, tp, offset, ts, op, key indexes…, args…, sums…]
 * (core/redis/apply-batch.ts), so the wrappers read fixed places: no table per event.
 */
function dispatchOf(registered: RegisteredMutation): string {
  const { definition, contract } = registered;
  const keyCount = definition.keys.length;
  if (definition.args.length === 0) fail(definition.name, 'it has no args');
  const params = [
    'ctx',
    ...definition.keys.map((_, i) => `ctx.keys[${at(7 + i)}]`),
    ...definition.args.map((_, i) => at(7 + keyCount + i)),
  ].join(', ');
  const refuse =
    contract.refuse === undefined
      ? 'false'
      : `function(ctx, e) return ${contract.refuse}(${params}) end`;
  // The stream entry (lua/includes/layout.lua, format 3) as one expression: the lengths of the
  // texts that repeat within a chunk (the scope, state names) are cached (lengthPrefix), and the
  // last argument needs none. Building it piece by piece cost a third of the guard's time.
  const keyLocals = definition.keys.map((_, i) => `k${i + 1}`);
  const argLocals = definition.args.map((_, i) => `a${i + 1}`);
  const lengths = [
    'lengthPrefix(scope)',
    ...keyLocals.map((k) => `lengthPrefix(${k})`),
    ...argLocals.slice(0, -1).map((a) => `#${a} .. ','`),
  ].join(' .. ');
  const entry = [
    'function(e, names, late, refused)',
    `    local scope = e[1]`,
    `    local ${keyLocals.join(', ')} = ${definition.keys.map((_, i) => `names[${at(7 + i)}]`).join(', ')}`,
    `    local ${argLocals.join(', ')} = ${definition.args.map((_, i) => at(7 + keyCount + i)).join(', ')}`,
    `    return ${lengths} .. e[2] .. ',' .. e[3] .. ',' .. e[4] .. ',' .. e[5] .. ',${definition.name},' .. late .. ',' .. refused .. ',${keyCount}:' .. scope .. ${[...keyLocals, ...argLocals].join(' .. ')}`,
    '  end',
  ].join('\n');
  const targets = definition.keys
    .map(
      (key) =>
        definition.args.indexOf((definition.targets as Record<string, string>)[key] as string) + 1,
    )
    .join(', ');
  return [
    'do',
    definition.lua.trimEnd(),
    `MUTATIONS[${JSON.stringify(definition.name)}] = { keys = ${keyCount}, args = ${definition.args.length}, targets = { ${targets} },`,
    `  refuse = ${refuse},`,
    `  apply = function(ctx, e) return ${contract.apply}(${params}) end,`,
    `  entry = ${entry} }`,
    'end',
  ].join('\n');
}

const mutationsLine = /^--- @mutations\s*$/m;

/** Checks and compiles definitions; the order is the registration order. */
export function createMutationRegistry(
  definitions: readonly MutationDefinition[],
): MutationRegistry {
  const byName = new Map<string, RegisteredMutation>();
  for (const definition of definitions) {
    const contract = checkDefinition(definition);
    if (byName.has(definition.name)) fail(definition.name, 'two mutations have this name');
    const schema = envelopeSchemaOf(definition.name, definition.data);
    // Compiled at the first envelope it checks, not at registration: a cold start of a function
    // whose events are not envelopes (or not yet) does not pay for it.
    let compiled: { Check(value: unknown): boolean } | undefined;
    const registered: RegisteredMutation = {
      definition,
      contract,
      check: (envelope) => {
        const validator = compiled ?? Compile(schema);
        compiled = validator;
        return validator.Check(envelope);
      },
      fields: [...definition.keys, ...definition.args],
      toMutation(given) {
        const mutation = mutationOf(registered, given);
        return invalidData(registered, mutation) ?? mutation;
      },
    };
    byName.set(definition.name, registered);
  }
  const dispatch = [
    '-- The registered mutations (core/mutations/registry.ts).',
    'local MUTATIONS = {}',
    ...[...byName.values()].map(dispatchOf),
  ].join('\n');
  const id = createHash('sha1').update(dispatch).digest('hex').slice(0, 12);
  const withMutations = (lua: string) => {
    if (!mutationsLine.test(lua)) throw new TypeError('the script has no "--- @mutations" line');
    return lua.replace(mutationsLine, () => dispatch);
  };
  return {
    names: [...byName.keys()],
    get: (op) => byName.get(op),
    mutation: (op, data) => readMutation(byName.get(op), op, data),
    applyBatch: { name: `applyBatch${id}`, lua: withMutations(scripts.applyBatch.lua) },
    swapRebuilt: {
      name: `swapRebuilt${id}`,
      lua: withMutations(scripts.swapRebuilt.lua),
      numberOfKeys: scripts.swapRebuilt.numberOfKeys,
    },
    withMutations,
  };
}

function readMutation(
  registered: RegisteredMutation | undefined,
  op: string,
  data: Readonly<Record<string, unknown>>,
): Mutation {
  if (registered === undefined) throw new TypeError(`"${op}" is not a registered mutation`);
  const kinds = registered.definition.data as Record<string, Field>;
  const problems: string[] = [];
  const given: Record<string, string | undefined> = {};
  for (const field of registered.fields) {
    const kind = kinds[field] as Field;
    const value = data[field];
    if (value === undefined && kind.optional) continue;
    const issues = kind.issues(value);
    if (issues.length > 0) problems.push(`data.${field}: ${issues.join(', ')}`);
    else given[field] = kind.read(value);
  }
  for (const field of Object.keys(data)) {
    if (!registered.fields.includes(field)) problems.push(`data.${field}: not a field of ${op}`);
  }
  if (problems.length > 0) throw new TypeError(`${op}: ${problems.join('; ')}`);
  const mutation = mutationOf(registered, given);
  const invalid = invalidData(registered, mutation);
  if (invalid !== undefined) throw new TypeError(`${op}: ${invalid.message}`);
  return mutation;
}

/** A mutation's data by field name, from the Mutation that carries it. */
export function mutationData(
  registered: RegisteredMutation,
  mutation: Mutation,
): MutationData<string> {
  const data: Record<string, string> = {};
  const { keys, args } = registered.definition;
  keys.forEach((field, i) => {
    data[field] = mutation.keys[i] as string;
  });
  args.forEach((field, i) => {
    data[field] = mutation.args[i] as string;
  });
  return data;
}

/**
 * A Mutation from data already read into canonical text, the optional fields filled in from
 * their defaults. Defaults that depend on other fields see the fields given.
 */
export function mutationOf(
  registered: RegisteredMutation,
  given: Readonly<Record<string, string | undefined>>,
): Mutation {
  const { definition } = registered;
  if (definition.defaults === undefined) {
    // Nothing to fill in (the common case, once per event): no copy of the data.
    return {
      op: definition.name,
      keys: definition.keys.map((field) => given[field] as string),
      args: definition.args.map((field) => given[field] as string),
    };
  }
  const data: Record<string, string> = {};
  for (const field of registered.fields) {
    const value = given[field];
    if (value !== undefined) data[field] = value;
  }
  for (const field of registered.fields) {
    if (data[field] !== undefined) continue;
    const fallback = definition.defaults?.[field];
    data[field] = typeof fallback === 'function' ? fallback(data) : (fallback as string);
  }
  return {
    op: definition.name,
    keys: definition.keys.map((field) => data[field] as string),
    args: definition.args.map((field) => data[field] as string),
  };
}

/** Why data read from an event cannot be this mutation (definition.invalid), or undefined. */
export function invalidData(registered: RegisteredMutation, mutation: Mutation): Issue | undefined {
  const { invalid } = registered.definition;
  if (invalid === undefined) return undefined;
  const reason = invalid(mutationData(registered, mutation));
  return reason === undefined ? undefined : { path: ['data'], message: reason };
}

/**
 * What an applied event adds to the running sum of each of its keys, in key order: decimal text,
 * or false for a key whose sum it does not move.
 */
export function sumsOf(registered: RegisteredMutation, mutation: Mutation): (string | false)[] {
  const { definition } = registered;
  if (definition.sums === undefined) return definition.keys.map(() => false);
  const sums = definition.sums(mutationData(registered, mutation)) as Record<string, string>;
  return definition.keys.map((field) => sums[field] ?? false);
}
