import { describe, expect, it } from 'vitest';
import { SequenceOverflowError } from '../../../core/errors.ts';
import { INT64_MAX } from '../../../core/events/int64.ts';
import {
  inMemorySequenceSource,
  stampEnvelope,
  stampSeedEvent,
} from '../../../core/producer/sequencer.ts';

describe('inMemorySequenceSource()', () => {
  it('counts each scope on its own from 1', async () => {
    // Prepare
    const source = inMemorySequenceSource();
    // Act
    const seqs = [
      await source.next('a'),
      await source.next('b'),
      await source.next('a'),
      await source.next('a'),
    ];
    // Assess
    expect(seqs).toEqual([1n, 1n, 2n, 3n]);
  });

  it('continues after the seqs it was seeded with, and starts others at firstSeq', async () => {
    // Prepare
    const source = inMemorySequenceSource({
      firstSeq: 10n,
      lastIssued: { a: 41n, big: 9_007_199_254_740_992n },
    });
    // Act
    const seqs = [await source.next('a'), await source.next('big'), await source.next('new')];
    // Assess
    expect(seqs).toEqual([42n, 9_007_199_254_740_993n, 10n]);
  });

  it('takes its seeds as entries too', async () => {
    // Prepare
    const source = inMemorySequenceSource({ lastIssued: new Map([['a', 7n]]) });
    // Act
    const seq = await source.next('a');
    // Assess
    expect(seq).toBe(8n);
  });

  it('refuses a seq beyond int64', async () => {
    // Prepare
    const source = inMemorySequenceSource({ lastIssued: { a: INT64_MAX } });
    // Act
    const failure = source.next('a');
    // Assess
    await expect(failure).rejects.toBeInstanceOf(SequenceOverflowError);
  });
});

describe('stampEnvelope()', () => {
  it('fills in the next seq of the scope and keeps the rest of the envelope', async () => {
    // Prepare
    const source = inMemorySequenceSource({ lastIssued: { 'wallet-9': 41n } });
    const draft = {
      scope: 'wallet-9',
      shard: 'tenant-a',
      type: 'hincrby',
      data: { key: 'balances', field: 'wallet-9', delta: -700 },
    } as const;
    // Act
    const stamped = await stampEnvelope(source, draft);
    // Assess
    expect(stamped).toEqual({ scope: 'wallet-9', seq: 42n, value: { ...draft, seq: 42n } });
  });
});

describe('stampSeedEvent()', () => {
  it('fills in sequence_id, scoped by the player unless told otherwise', async () => {
    // Prepare
    const source = inMemorySequenceSource();
    // Act
    const byPlayer = await stampSeedEvent(source, { player_id: 'p1', delta: 5 });
    const byGame = await stampSeedEvent(source, { player_id: 'p1', delta: 2 }, 'game-7');
    // Assess
    expect(byPlayer).toEqual({
      scope: 'p1',
      seq: 1n,
      value: { sequence_id: 1n, player_id: 'p1', delta: 5 },
    });
    expect(byGame.scope).toBe('game-7');
    expect(byGame.value.sequence_id).toBe(1n);
  });
});
