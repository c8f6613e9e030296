/**
 * The writer of a rebuild: the fold into a fresh key beside the live one (keys.ts rebuildKey),
 * and the versions it kept into a fresh versions hash, each batch with a safety TTL so that a
 * rebuild that dies leaves nothing behind for long.
 */
import {
  type RedisClient,
  RedisUnavailableError,
  scoreText,
  versionField,
} from '../../core/index.ts';

import { type Fold, folded } from './fold.ts';

/** A rebuild that dies leaves its fresh keys behind; they expire instead of piling up. */
const freshKeyTtlMs = 24 * 60 * 60 * 1_000;

async function execOrThrow(transaction: ReturnType<RedisClient['multi']>): Promise<void> {
  const replies = await transaction.exec();
  if (replies === null) throw new RedisUnavailableError('the transaction was discarded');
  for (const [error] of replies) if (error) throw error;
}

/**
 * Writes the fold into the fresh key (and the versions it kept into the fresh versions hash) in
 * batches, each in a MULTI with the safety TTL, so no batch is ever left without one.
 */
export async function writeFresh(
  redis: RedisClient,
  fold: Fold,
  fresh: string,
  freshVersions: string,
  batchSize: number,
): Promise<void> {
  const value = folded(fold);
  if (value?.type === 'zset') {
    const members = [...value.members];
    for (let i = 0; i < members.length; i += batchSize) {
      const args = members
        .slice(i, i + batchSize)
        .flatMap(([member, { score }]) => [scoreText(score), member]);
      await execOrThrow(
        redis
          .multi()
          .zadd(fresh, ...args)
          .pexpire(fresh, freshKeyTtlMs),
      );
    }
    return;
  }
  if (value?.type === 'set') {
    const members = [...value.members];
    for (let i = 0; i < members.length; i += batchSize) {
      await execOrThrow(
        redis
          .multi()
          .sadd(fresh, ...members.slice(i, i + batchSize))
          .pexpire(fresh, freshKeyTtlMs),
      );
    }
    return;
  }
  if (value === undefined) return;
  const fields = [...value.fields];
  const versions = fold.model.versions.get(fold.name);
  for (let i = 0; i < fields.length; i += batchSize) {
    const batch = fields.slice(i, i + batchSize);
    const transaction = redis
      .multi()
      .hset(fresh, ...batch.flatMap(([field, text]) => [field, String(text)]))
      .pexpire(fresh, freshKeyTtlMs);
    // In the guard's own encoding, so that the swap applies the tail's hsetIfNewer entries with
    // the guard's own body (lua/mutations/hsetIfNewer.lua).
    const batchVersions = batch.flatMap(([field]) => {
      const version = versions?.get(field);
      return version === undefined ? [] : [versionField(fold.name, field), String(version)];
    });
    if (batchVersions.length > 0) {
      transaction.hset(freshVersions, ...batchVersions).pexpire(freshVersions, freshKeyTtlMs);
    }
    await execOrThrow(transaction);
  }
}
