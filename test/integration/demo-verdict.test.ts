/**
 * The demo's verdict on a real Redis: it reads the state the guard wrote (leaderboard, balances,
 * cursors, gaps, refusals, running totals) and must catch an event lost, an event applied twice,
 * an open gap, a balance changed around the guard and a debit judged in another order than the
 * model's, with the delta stream gone entirely. And what the stream says of each op.
 */

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { GuardedEvent } from '../../core/events/types.ts';
import { shardKeys, stateKey } from '../../core/layout/keys.ts';
import { applyChunk } from '../../core/redis/apply-batch.ts';
import { streamOutcomes } from '../../local/scenario/stream-outcomes.ts';
import {
  addEvent,
  addUniqueEvent,
  emptyModel,
  type Model,
  type ModelEvent,
} from '../../local/scenario/traffic-model.ts';
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

const freshPrefix = () => `verdict${randomBytes(4).toString('hex')}`;

/** Applies the events through the real guard under `keyPrefix`, then drops the stream. */
async function applyThenDropStream(keyPrefix: string, which: GuardedEvent[]): Promise<void> {
  await applyChunk(redis, shard, which, {
    firstSeq: '1',
    streamMaxLen: 0,
    streamMaxAgeMs: 0,
    keyPrefix,
  });
  await raw.del(shardKeys(shard, keyPrefix).stream);
}

/** Applies the leaderboard's events under a fresh prefix, without the stream. */
async function applied(which: typeof events): Promise<string> {
  const keyPrefix = freshPrefix();
  await applyThenDropStream(
    keyPrefix,
    which.map((e, i) => guarded(e, i)),
  );
  return keyPrefix;
}

const check = (keyPrefix: string) =>
  checkAgainstModel(redis, model(), { shard, stateName: 'leaderboard', keyPrefix, pageSize: 2 });

describe('checkAgainstModel()', () => {
  it('passes a state that holds every unique event once, without the stream', async () => {
    const verdict = await check(await applied(events));
    expect(verdict).toEqual({
      applied: 12,
      refused: 0,
      lost: 0,
      duplicated: 0,
      wrongScores: 0,
      wrongEntries: 0,
      statesChecked: ['leaderboard'],
      openGaps: 0,
      expectedGaps: 0,
      totalsMatch: true,
      refusedMatch: true,
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

/**
 * The ledger's events as the demo makes them, in the order they are sent: seq 3 (a debit of 8)
 * goes before seq 2 (coins won, held back), so the debit finds 5 coins and is refused.
 */
const ledger: { seq: number; op: string; data: Record<string, unknown> }[] = [
  { seq: 1, op: 'hincrby', data: { key: 'wallet', field: 'alice', delta: 5 } },
  { seq: 3, op: 'debit', data: { key: 'wallet', field: 'alice', amount: 8 } },
  { seq: 2, op: 'hincrby', data: { key: 'wallet', field: 'alice', delta: 10 } },
  { seq: 4, op: 'transfer', data: { key: 'wallet', from: 'alice', to: 'bob', amount: 6 } },
  { seq: 5, op: 'transfer', data: { key: 'wallet', from: 'bob', to: 'alice', amount: 7 } },
  { seq: 6, op: 'debit', data: { key: 'wallet', field: 'alice', amount: 10 } },
];

const ledgerEvent = ({ seq, op, data }: (typeof ledger)[number]): ModelEvent => ({
  scope: 'ledger',
  seq: BigInt(seq),
  mutation: mutation(op, data),
});

/** The model of the ledger, taken in the order it is sent, with a leaderboard event besides. */
function walletModel(): Model {
  const built = emptyModel();
  addUniqueEvent(built, 'p-1', 1n, 4);
  for (const entry of ledger) addEvent(built, ledgerEvent(entry));
  return built;
}

function guardedLedger(order: typeof ledger): GuardedEvent[] {
  const board: GuardedEvent = {
    shard,
    sequence: { scope: 'p-1', seq: '1' },
    mutation: mutation('zincrby', { key: 'leaderboard', member: 'p-1', delta: 4 }),
    record: { topic: 't', partition: 0, offset: '0', timestamp: Date.now() },
  };
  return [
    board,
    ...order.map(
      (entry, i): GuardedEvent => ({
        shard,
        sequence: { scope: 'ledger', seq: String(entry.seq) },
        mutation: ledgerEvent(entry).mutation,
        record: { topic: 'w', partition: 0, offset: String(i), timestamp: Date.now() },
      }),
    ),
  ];
}

const checkWallet = (keyPrefix: string, stateNames: string[] = ['wallet']) =>
  checkAgainstModel(redis, walletModel(), {
    shard,
    stateName: 'leaderboard',
    stateNames,
    keyPrefix,
    pageSize: 1,
  });

describe('checkAgainstModel() with refusals', () => {
  it('passes balances, refused debits and transfers the model took in the guard’s order', async () => {
    // Prepare
    const expected = walletModel();
    const keyPrefix = freshPrefix();
    await applyThenDropStream(keyPrefix, guardedLedger(ledger));
    // Act
    const verdict = await checkWallet(keyPrefix);
    // Assess: alice 5, -8 refused, +10, -6 to bob, 7 back from bob refused (bob has 6), -10
    // refused (alice has 9).
    expect(verdict).toMatchObject({ applied: 4, refused: 3, refusedMatch: true, ok: true });
    expect(verdict.statesChecked).toEqual(['leaderboard', 'wallet']);
    expect(expected.byOp.get('debit')).toEqual({
      applied: 0,
      refused: new Map([['insufficient', 2]]),
    });
    expect(expected.byOp.get('transfer')).toEqual({
      applied: 1,
      refused: new Map([['insufficient', 1]]),
    });
    expect(await raw.hgetall(stateKey(shard, 'wallet', keyPrefix))).toEqual({
      alice: '9',
      bob: '6',
    });
  });

  it('catches a debit judged in another order than the model’s', async () => {
    // Prepare: Redis gets the ledger in seq order, so the debit of 8 finds 15 coins.
    const keyPrefix = freshPrefix();
    const bySeq = [...ledger].sort((a, b) => a.seq - b.seq);
    await applyThenDropStream(keyPrefix, guardedLedger(bySeq));
    // Act
    const verdict = await checkWallet(keyPrefix);
    // Assess
    expect(verdict.refusedMatch).toBe(false);
    expect(verdict.refused).not.toBe(3);
    expect(verdict.wrongEntries).toBeGreaterThan(0);
    expect(verdict.totalsMatch).toBe(false);
    expect(verdict.ok).toBe(false);
  });

  it('finds a balance changed around the guard, though every count is right', async () => {
    const keyPrefix = freshPrefix();
    await applyThenDropStream(keyPrefix, guardedLedger(ledger));
    await raw.hincrby(stateKey(shard, 'wallet', keyPrefix), 'bob', 1);
    const verdict = await checkWallet(keyPrefix);
    expect(verdict).toMatchObject({ wrongEntries: 1, refusedMatch: true, ok: false });
  });

  it('finds a field the model does not have, and a state key it has none of', async () => {
    const keyPrefix = freshPrefix();
    await applyThenDropStream(keyPrefix, guardedLedger(ledger));
    await raw.hset(stateKey(shard, 'wallet', keyPrefix), 'carol', '0');
    await raw.sadd(stateKey(shard, 'online', keyPrefix), 'alice', 'bob');
    const verdict = await checkWallet(keyPrefix, ['wallet', 'online']);
    expect(verdict).toMatchObject({ wrongEntries: 3, ok: false });
    expect(verdict.statesChecked).toEqual(['leaderboard', 'wallet', 'online']);
  });
});

describe('streamOutcomes()', () => {
  it('counts each op’s entries in the delta stream: applied, and refused by reason', async () => {
    // Prepare
    const keyPrefix = freshPrefix();
    await applyChunk(redis, shard, guardedLedger(ledger), {
      firstSeq: '1',
      streamMaxLen: 0,
      streamMaxAgeMs: 0,
      keyPrefix,
    });
    // Act
    const outcomes = await streamOutcomes(redis, shardKeys(shard, keyPrefix).stream, 2);
    // Assess: what the model says of each op, entry by entry.
    const expected = walletModel();
    expect(outcomes.entries).toBe(expected.unique);
    expect(outcomes.byOp).toEqual(expected.byOp);
  });
});
