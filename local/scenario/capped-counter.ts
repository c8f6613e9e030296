/**
 * A mutation of our own, made the way docs/your-own-mutation.md tells a user to make one: a
 * counter that never passes its cap (daily spins, a per-player limit on a promotion). It adds
 * `delta` to a hash field unless the result would be above `cap`; then it is refused "capped",
 * and nothing changes. The test suite registers it with the built-ins, runs it through the
 * property test against its model on a real Redis and Redis Cluster, and the soak's traffic
 * carries it.
 *
 * It imports only the public entry, as a user's code would import `seqguard`.
 */
import {
  builtinMutations,
  counterOf,
  createMutationRegistry,
  defineMutation,
  fields,
  isInt64,
  setCounter,
} from '../../core/index.ts';

/**
 * The Lua body: a contract header, then refuse and apply. It may call the helpers every guard
 * script has (docs/your-own-mutation.md lists them), and touch no key but its key parameters.
 */
const lua = `--[[
  @mutation cappedIncr
  @keys key
  @args field delta cap
  @refuses capped
  A counter that never passes its cap: adds delta to a hash field unless the result would be
  above cap. A field that cannot be judged (another type, not an integer) is not refused: HINCRBY
  then says why Redis refuses it.
]]

local function refuseCappedIncr(ctx, key, field, delta, cap)
  local current = redis.pcall('HGET', key, field)
  if type(current) == 'table' then
    return nil
  end
  current = current or '0'
  -- current - (-delta) > cap, exactly, whatever the sizes
  if int64Valid(current) and int64CompareDifference(current, int64Negate(delta), cap) > 0 then
    return 'capped'
  end
  return nil
end

local function applyCappedIncr(ctx, key, field, delta, cap)
  return rejectionOf(redis.pcall('HINCRBY', key, field, delta))
end
`;

export const cappedCounterMutation = defineMutation({
  name: 'cappedIncr',
  summary: 'adds delta to a counter unless the result would be above cap',
  data: { key: fields.stateName, field: fields.target, delta: fields.uint63, cap: fields.int64 },
  keys: ['key'],
  args: ['field', 'delta', 'cap'],
  targets: { key: 'field' },
  refusals: ['capped'],
  sums: ({ delta }) => ({ key: delta }),
  lua,
  model: {
    refuse(state, { key, field, delta, cap }) {
      const current = counterOf(state, key, field);
      if (typeof current !== 'bigint') return undefined;
      return current + BigInt(delta) > BigInt(cap) ? 'capped' : undefined;
    },
    apply(state, { key, field, delta }) {
      const current = counterOf(state, key, field);
      if (typeof current !== 'bigint') return current;
      const result = current + BigInt(delta);
      if (!isInt64(result)) return 'mutationFailed';
      setCounter(state, key, field, result);
      return undefined;
    },
  },
});

/** The built-ins and the capped counter: what the soak's sink and the property tests register. */
export const scenarioMutations = createMutationRegistry([
  ...builtinMutations,
  cappedCounterMutation,
]);
