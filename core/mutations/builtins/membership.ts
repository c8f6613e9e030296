import { fields } from '../../events/fields.ts';
import { mutationLua } from '../../redis/lua-scripts.generated.ts';
import { defineMutation } from '../define.ts';
import { dropIfEmpty, ensureState, stateOf } from '../state.ts';

/** A member joins a set (an inventory item, a badge). */
export const saddMutation = defineMutation({
  name: 'sadd',
  summary: 'a member is in the set afterwards (SADD)',
  data: { key: fields.stateName, member: fields.target },
  keys: ['key'],
  args: ['member'],
  targets: { key: 'member' },
  lua: mutationLua.sadd,
  model: {
    apply(state, { key, member }) {
      if (stateOf(state, key, 'set') === 'wrongType') return 'wrongType';
      ensureState(state, key, 'set').members.add(member);
      return undefined;
    },
  },
});

/** A member leaves a set; the last one out deletes the key, as in Redis. */
export const sremMutation = defineMutation({
  name: 'srem',
  summary: 'a member is not in the set afterwards (SREM)',
  data: { key: fields.stateName, member: fields.target },
  keys: ['key'],
  args: ['member'],
  targets: { key: 'member' },
  lua: mutationLua.srem,
  model: {
    apply(state, { key, member }) {
      const set = stateOf(state, key, 'set');
      if (set === 'wrongType') return 'wrongType';
      set?.members.delete(member);
      dropIfEmpty(state, key);
      return undefined;
    },
  },
});
