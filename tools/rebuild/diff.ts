/**
 * The diff of a rebuild: which targets (members or fields) of the live state the fold would
 * change, to count the drift a rebuild repairs.
 */
import { parseScore, type RedisClient } from '../../core/index.ts';

import { type Fold, folded } from './fold.ts';

/**
 * The targets whose live value is not the folded one, read in pages (SCAN does not block Redis).
 * Targets touched by events applied after the fold differ legitimately; the swap compares those.
 */
export async function driftedTargets(
  redis: RedisClient,
  live: string,
  fold: Fold,
): Promise<Set<string>> {
  const drifted = new Set<string>();
  const seen = new Set<string>();
  const value = folded(fold);
  const liveType = await redis.type(live);
  if (liveType === 'zset' || liveType === 'hash' || liveType === 'set') {
    let cursor = '0';
    do {
      const [next, scanned] =
        liveType === 'zset'
          ? await redis.zscan(live, cursor, 'COUNT', 1_000)
          : liveType === 'hash'
            ? await redis.hscan(live, cursor, 'COUNT', 1_000)
            : await redis.sscan(live, cursor, 'COUNT', 1_000);
      // A set's members come alone: pair each with an empty value.
      const flat = liveType === 'set' ? scanned.flatMap((member) => [member, '']) : scanned;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const target = flat[i] as string;
        const text = flat[i + 1] as string;
        if (seen.has(target)) continue; // SCAN may return an element more than once
        seen.add(target);
        const same =
          value?.type === 'zset' && liveType === 'zset'
            ? value.members.get(target)?.score === parseScore(text)
            : value?.type === 'hash' && liveType === 'hash'
              ? value.fields.has(target) && String(value.fields.get(target)) === text
              : value?.type === 'set' && liveType === 'set'
                ? value.members.has(target)
                : false;
        if (!same) drifted.add(target);
      }
      cursor = next;
    } while (cursor !== '0');
  }
  const targets =
    value === undefined ? [] : value.type === 'hash' ? value.fields.keys() : value.members.keys();
  for (const target of targets) if (!seen.has(target)) drifted.add(target);
  return drifted;
}
