import { fields } from '../../events/fields.ts';
import { mutationLua } from '../../redis/lua-scripts.generated.ts';
import { defineMutation } from '../define.ts';
import { counterOf, isInt64, setCounter } from '../state.ts';

/** Moves an amount between two counters of one shard, both or neither. */
export const transferMutation = defineMutation({
  name: 'transfer',
  summary:
    'moves an int64 amount from one counter to another of the shard, both or neither, never taking the source below floor (default 0)',
  data: {
    key: fields.stateName,
    from: fields.target,
    to: fields.target,
    amount: fields.uint63,
    floor: fields.optional(fields.int64),
    toKey: fields.optional(fields.stateName),
  },
  keys: ['key', 'toKey'],
  args: ['from', 'to', 'amount', 'floor'],
  targets: { key: 'from', toKey: 'to' },
  defaults: { floor: '0', toKey: ({ key }) => key },
  invalid: ({ key, toKey, from, to }) =>
    key === toKey && from === to ? 'a transfer to itself (the same key and field)' : undefined,
  refusals: ['insufficient'],
  sums: ({ amount }) => ({ key: amount === '0' ? '0' : `-${amount}`, toKey: amount }),
  lua: mutationLua.transfer,
  model: {
    refuse(state, { key, from, amount, floor }) {
      const current = counterOf(state, key, from);
      if (typeof current !== 'bigint') return undefined;
      return current - BigInt(amount) < BigInt(floor) ? 'insufficient' : undefined;
    },
    apply(state, { key, toKey, from, to, amount }) {
      const source = counterOf(state, key, from);
      const target = counterOf(state, toKey, to);
      if (source === 'wrongType' || target === 'wrongType') return 'wrongType';
      if (typeof source !== 'bigint' || typeof target !== 'bigint') return 'mutationFailed';
      const moved = BigInt(amount);
      if (!isInt64(source - moved) || !isInt64(target + moved)) return 'mutationFailed';
      setCounter(state, key, from, source - moved);
      // Read again: on one key and field... a transfer to itself is invalid, but the same key
      // with another field is fine, and the source write must not be lost.
      const after = counterOf(state, toKey, to) as bigint;
      setCounter(state, toKey, to, after + moved);
      return undefined;
    },
  },
});
