import { fields } from '../../events/fields.ts';
import { mutationLua } from '../../redis/lua-scripts.generated.ts';
import { defineMutation } from '../define.ts';
import { ensureState, type StateModel, stateOf } from '../state.ts';
import { parseScoreArgument } from './zincrby.ts';

/** ZADD GT / LT: the member's score becomes `text` only if that is higher (lower). */
function keepBest(
  model: StateModel,
  name: string,
  member: string,
  text: string,
  better: (score: number, current: number) => boolean,
) {
  const zset = stateOf(model, name, 'zset');
  if (zset === 'wrongType') return 'wrongType';
  const score = parseScoreArgument(text);
  if (score === undefined) return 'mutationFailed';
  const current = zset?.members.get(member);
  if (current !== undefined && !better(score, current.score)) return undefined;
  ensureState(model, name, 'zset').members.set(member, {
    score,
    magnitude: Math.abs(score),
    exact: true,
  });
  return undefined;
}

/** A best-score leaderboard: keeps each member's highest score. */
export const zmaxMutation = defineMutation({
  name: 'zmax',
  summary: "sets a member's score only if it is higher than the one it has (ZADD GT)",
  data: { key: fields.stateName, member: fields.target, score: fields.float },
  keys: ['key'],
  args: ['member', 'score'],
  targets: { key: 'member' },
  lua: mutationLua.zmax,
  model: {
    apply: (state, { key, member, score }) =>
      keepBest(state, key, member, score, (next, current) => next > current),
  },
});

/** A lowest-score leaderboard (best lap times): keeps each member's lowest score. */
export const zminMutation = defineMutation({
  name: 'zmin',
  summary: "sets a member's score only if it is lower than the one it has (ZADD LT)",
  data: { key: fields.stateName, member: fields.target, score: fields.float },
  keys: ['key'],
  args: ['member', 'score'],
  targets: { key: 'member' },
  lua: mutationLua.zmin,
  model: {
    apply: (state, { key, member, score }) =>
      keepBest(state, key, member, score, (next, current) => next < current),
  },
});
