/**
 * The demo's verdict on a real Redis: it reads the state the guard wrote (leaderboard, cursors,
 * gaps, running totals) and must catch an event lost, an event applied twice and an open gap,
 * with the delta stream gone entirely.
 */

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { GuardedEvent } from '../../core/events/types.ts';
import { shardKeys, stateKey } from '../../core/layout/keys.ts';
import { applyChunk } from '../../core/redis/apply-batch.ts';
import { addUniqueEvent, emptyModel, type Model } from '../../local/scenario/traffic-model.ts';
import { checkAgainstModel } from '../../local/scenario/verdict.ts';
import { mutation } from '../helpers/events.ts';
import { suiteRedis } from '../helpers/redis.ts';

const { redis, raw } = suiteRedis();
const shard = 'game';

/** Three players, each with seqs 1..4 and delta = seq. */
const events = ['p-1', 'p-2', 'p-3'].flatMap((player) =>
  [1, 2, 3, 4].map((seq) => ({ player, seq })),
);

function model(): Model {
  const built = emptyModel();
  for (const { player, seq } of events) addUniqueEvent(built, player, BigInt(seq), seq);
  built.records = events.length;
  return built;
}

function guarded({ player, seq }: { player: string; seq: number }, offset: number): GuardedEvent {
  return {
    shard,
    sequence: { scope: player, seq: String(seq) },
    mutation: mutation('zincrby', { key: 'leaderboard', member: player, delta: String(seq) }),
    record: { topic: 't', partition: 0, offset: String(offset), timestamp: Date.now() },
  };
}

/** Applies the events through the real guard under a fresh prefix, then drops the stream. */
async function applied(which: typeof events): Promise<string> {
  const keyPrefix = `verdict${randomBytes(4).toString('hex')}`;
  await applyChunk(
    redis,
    shard,
    which.map((e, i) => guarded(e, i)),
    { firstSeq: '1', streamMaxLen: 0, streamMaxAgeMs: 0, keyPrefix },
  );
  await raw.del(shardKeys(shard, keyPrefix).stream);
  return keyPrefix;
}

const check = (keyPrefix: string) =>
  checkAgainstModel(redis, model(), { shard, stateName: 'leaderboard', keyPrefix, pageSize: 2 });

describe('checkAgainstModel()', () => {
  it('passes a state that holds every unique event once, without the stream', async () => {
    const verdict = await check(await applied(events));
    expect(verdict).toEqual({
      applied: 12,
      lost: 0,
      duplicated: 0,
      wrongScores: 0,
      openGaps: 0,
      expectedGaps: 0,
      totalsMatch: true,
      ok: true,
    });
  });

  it('counts an event never applied as lost', async () => {
    const lastOfP2 = events.findIndex((e) => e.player === 'p-2' && e.seq === 4);
    const verdict = await check(await applied(events.filter((_, i) => i !== lastOfP2)));
    expect(verdict).toMatchObject({ lost: 1, duplicated: 0, wrongScores: 1, ok: false });
  });

  it('counts a seq inside an open gap as lost', async () => {
    const secondOfP3 = events.findIndex((e) => e.player === 'p-3' && e.seq === 2);
    const verdict = await check(await applied(events.filter((_, i) => i !== secondOfP3)));
    expect(verdict).toMatchObject({ lost: 1, openGaps: 1, wrongScores: 1, ok: false });
  });

  it('counts an effect applied twice, as a guard that forgot its cursor would', async () => {
    const keyPrefix = await applied(events);
    await raw.zincrby(stateKey(shard, 'leaderboard', keyPrefix), 3, 'p-1');
    await raw.hincrby(shardKeys(shard, keyPrefix).meta, 'applied', 1);
    const verdict = await check(keyPrefix);
    expect(verdict).toMatchObject({ lost: 0, duplicated: 1, wrongScores: 1, ok: false });
  });

  it('finds a score changed around the guard, though every count is right', async () => {
    const keyPrefix = await applied(events);
    await raw.zincrby(stateKey(shard, 'leaderboard', keyPrefix), 1, 'p-3');
    const verdict = await check(keyPrefix);
    expect(verdict).toMatchObject({ lost: 0, duplicated: 0, wrongScores: 1, ok: false });
  });
});
