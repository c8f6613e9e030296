import { fields } from '../../events/fields.ts';
import { mutationLua } from '../../redis/lua-scripts.generated.ts';
import { defineMutation } from '../define.ts';
import { ensureState, stateOf } from '../state.ts';

/** A field takes a value if its version is above the one that last set it. */
export const hsetIfNewerMutation = defineMutation({
  name: 'hsetIfNewer',
  summary: 'a hash field takes value if version is above the version that last set it',
  data: {
    key: fields.stateName,
    field: fields.target,
    value: fields.scalar,
    version: fields.uint63,
  },
  keys: ['key'],
  args: ['field', 'value', 'version'],
  targets: { key: 'field' },
  lua: mutationLua.hsetIfNewer,
  model: {
    apply(state, { key, field, value, version: versionText }) {
      const version = BigInt(versionText);
      // The version is looked at before the key: a stale one is a no-op, whatever the key holds.
      const versions = state.versions.get(key);
      const current = versions?.get(field);
      if (current !== undefined && version <= current) return undefined;
      if (stateOf(state, key, 'hash') === 'wrongType') return 'wrongType';
      ensureState(state, key, 'hash').fields.set(field, value);
      if (versions === undefined) state.versions.set(key, new Map([[field, version]]));
      else versions.set(field, version);
      return undefined;
    },
  },
});
