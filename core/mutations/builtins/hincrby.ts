import { fields } from '../../events/fields.ts';
import { parseInt64 } from '../../events/int64.ts';
import { mutationLua } from '../../redis/lua-scripts.generated.ts';
import { defineMutation } from '../define.ts';
import { counterOf, isInt64, setCounter } from '../state.ts';

/** An integer counter moves by a delta. */
export const hincrbyMutation = defineMutation({
  name: 'hincrby',
  summary: 'an int64 counter (a hash field) moves by delta (HINCRBY)',
  data: { key: fields.stateName, field: fields.target, delta: fields.int64 },
  keys: ['key'],
  args: ['field', 'delta'],
  targets: { key: 'field' },
  sums: ({ delta }) => ({ key: delta }),
  lua: mutationLua.hincrby,
  model: {
    apply(state, { key, field, delta }) {
      const current = counterOf(state, key, field);
      if (typeof current !== 'bigint') return current;
      const sum = current + (parseInt64(delta) as bigint);
      if (!isInt64(sum)) return 'mutationFailed';
      setCounter(state, key, field, sum);
      return undefined;
    },
  },
});
