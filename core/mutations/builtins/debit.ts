import { fields } from '../../events/fields.ts';
import { mutationLua } from '../../redis/lua-scripts.generated.ts';
import { defineMutation } from '../define.ts';
import { counterOf, isInt64, setCounter } from '../state.ts';

/** A payout that must not overdraw: a counter goes down by amount, never below floor. */
export const debitMutation = defineMutation({
  name: 'debit',
  summary: 'takes an int64 amount from a counter unless it would fall below floor (default 0)',
  data: {
    key: fields.stateName,
    field: fields.target,
    amount: fields.uint63,
    floor: fields.optional(fields.int64),
  },
  keys: ['key'],
  args: ['field', 'amount', 'floor'],
  targets: { key: 'field' },
  defaults: { floor: '0' },
  refusals: ['insufficient'],
  sums: ({ amount }) => ({ key: amount === '0' ? '0' : `-${amount}` }),
  lua: mutationLua.debit,
  model: {
    refuse(state, { key, field, amount, floor }) {
      const current = counterOf(state, key, field);
      if (typeof current !== 'bigint') return undefined;
      return current - BigInt(amount) < BigInt(floor) ? 'insufficient' : undefined;
    },
    apply(state, { key, field, amount }) {
      const current = counterOf(state, key, field);
      if (typeof current !== 'bigint') return current;
      const result = current - BigInt(amount);
      if (!isInt64(result)) return 'mutationFailed';
      setCounter(state, key, field, result);
      return undefined;
    },
  },
});
