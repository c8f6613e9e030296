import { fields } from '../../events/fields.ts';
import { mutationLua } from '../../redis/lua-scripts.generated.ts';
import { defineMutation } from '../define.ts';
import { ensureState, type StateModel, stateOf } from '../state.ts';

/**
 * ZINCRBY and ZADD parse a score with strtod and refuse a result that underflowed to zero
 * (Redis util.c string2d, ERANGE), while JavaScript quietly reads "1e-400" as 0.
 */
export function parseScoreArgument(text: string): number | undefined {
  const value = Number(text);
  if (!Number.isFinite(value)) return undefined;
  if (value === 0 && /[1-9]/.test(text.split(/[eE]/)[0] ?? '')) return undefined;
  return value;
}

function zincrby(model: StateModel, name: string, member: string, text: string) {
  const zset = stateOf(model, name, 'zset');
  if (zset === 'wrongType') return 'wrongType';
  const delta = parseScoreArgument(text);
  if (delta === undefined) return 'mutationFailed';
  const before = zset?.members.get(member);
  if (before === undefined) {
    ensureState(model, name, 'zset').members.set(member, {
      score: 0 + delta,
      magnitude: Math.abs(delta),
      exact: Number.isInteger(delta) && Math.abs(delta) <= Number.MAX_SAFE_INTEGER,
    });
    return undefined;
  }
  const score = before.score + delta;
  if (Number.isNaN(score)) return 'mutationFailed'; // inf + -inf: Redis refuses it
  before.score = score;
  before.magnitude += Math.abs(delta);
  before.exact =
    before.exact && Number.isInteger(delta) && before.magnitude <= Number.MAX_SAFE_INTEGER;
  return undefined;
}

/** A leaderboard score moves by a delta. */
export const zincrbyMutation = defineMutation({
  name: 'zincrby',
  summary: 'a leaderboard score moves by delta (ZINCRBY)',
  data: { key: fields.stateName, member: fields.target, delta: fields.float },
  keys: ['key'],
  args: ['member', 'delta'],
  targets: { key: 'member' },
  sums: ({ delta }) => ({ key: delta }),
  lua: mutationLua.zincrby,
  model: { apply: (state, { key, member, delta }) => zincrby(state, key, member, delta) },
});
