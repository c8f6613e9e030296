/**
 * The pure model of the guard and the mutations (core/guard/model.ts), rule by rule.
 * Its agreement with the Lua itself is checked event by event in
 * test/integration/apply-batch.property.test.ts; verify's use of it in test/unit/tools/verify.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Mutation } from '../../../core/events/types.ts';
import {
  applyMutation,
  emptyShardModel,
  emptyStateModel,
  type GuardStep,
  guard,
  guardEvent,
  guardOutcomes,
  isApplied,
  streamEntryOf,
} from '../../../core/guard/model.ts';
import { guardedEvent } from '../../helpers/events.ts';

const zincrby = (target: string, value: string): Mutation => ({
  op: 'zincrby',
  keys: ['board'],
  args: [target, value],
});
const hincrby = (target: string, value: string, key = 'coins'): Mutation => ({
  op: 'hincrby',
  keys: [key],
  args: [target, value],
});
const hset = (target: string, value: string, version: string, key = 'profile'): Mutation => ({
  op: 'hsetIfNewer',
  keys: [key],
  args: [target, value, version],
});

describe('applyMutation()', () => {
  it('adds scores as doubles in order, and keeps counters exact as int64', () => {
    // Prepare
    const model = emptyStateModel();
    // Act
    const results = [
      applyMutation(model, zincrby('ann', '0.1')),
      applyMutation(model, zincrby('ann', '0.2')),
      applyMutation(model, hincrby('bob', '9007199254740993')),
      applyMutation(model, hincrby('bob', '1')),
    ];
    // Assess
    expect(results).toEqual(Array(4).fill({ kind: 'applied' }));
    expect(model.state.get('board')).toEqual({
      type: 'zset',
      members: new Map([
        ['ann', { score: 0.30000000000000004, magnitude: 0.30000000000000004, exact: false }],
      ]),
    });
    expect(model.state.get('coins')).toEqual({
      type: 'hash',
      fields: new Map([['bob', 9007199254740994n]]),
    });
  });

  it('refuses what Redis refuses, changing nothing', () => {
    // Prepare
    const model = emptyStateModel();
    applyMutation(model, zincrby('ann', '1'));
    applyMutation(model, hset('name', 'Ann', '1'));
    applyMutation(model, hincrby('max', '9223372036854775807'));
    const before = structuredClone(model);
    // Act and assess
    expect(applyMutation(model, hincrby('ann', '1', 'board'))).toEqual({
      kind: 'rejected',
      reason: 'wrongType',
    });
    expect(applyMutation(model, zincrby('x', '1e-400'))).toEqual({
      kind: 'rejected',
      reason: 'mutationFailed',
    });
    expect(applyMutation(model, zincrby('x', '1e400'))).toEqual({
      kind: 'rejected',
      reason: 'mutationFailed',
    });
    expect(applyMutation(model, hincrby('max', '1'))).toEqual({
      kind: 'rejected',
      reason: 'mutationFailed',
    });
    expect(applyMutation(model, hincrby('name', '1', 'profile'))).toEqual({
      kind: 'rejected',
      reason: 'mutationFailed',
    });
    expect(applyMutation(model, hset('ann', 'x', '5', 'board'))).toEqual({
      kind: 'rejected',
      reason: 'wrongType',
    });
    expect(model).toEqual(before);
  });

  it('sets a field only for a higher version; a stale one is a no-op on any key', () => {
    // Prepare
    const model = emptyStateModel();
    // Act
    applyMutation(model, hset('name', 'gold', '5'));
    applyMutation(model, hset('name', 'silver', '5'));
    applyMutation(model, hset('name', 'bronze', '3'));
    model.state.set('profile', { type: 'zset', members: new Map() });
    // Assess: the version is looked at first, as the Lua does.
    expect(applyMutation(model, hset('name', 'late', '4'))).toEqual({ kind: 'applied' });
    expect(applyMutation(model, hset('name', 'new', '6'))).toEqual({
      kind: 'rejected',
      reason: 'wrongType',
    });
    expect(model.versions.get('profile')).toEqual(new Map([['name', 5n]]));
  });
});

describe('guard()', () => {
  const step = (seq: bigint, offset = seq, mutation = zincrby('ann', '1')): GuardStep => ({
    field: 's:a',
    seq,
    byOffset: false,
    mutation,
    position: { tp: 't-0', offset },
  });

  it('applies the next seq, opens a gap above it and fills the gap with a late event', () => {
    // Prepare
    const shard = emptyShardModel();
    // Act
    const outcomes = [1n, 4n, 3n, 3n, 0n].map((seq, i) => guard(shard, step(seq, BigInt(i)), 1n));
    // Assess
    expect(outcomes).toEqual([
      guardOutcomes.applied,
      guardOutcomes.gapOpened,
      guardOutcomes.appliedLate,
      guardOutcomes.duplicate,
      guardOutcomes.duplicate,
    ]);
    expect(shard.cursors.get('s:a')).toEqual({ value: 4n, gaps: [[2n, 2n]] });
    expect(shard.totals.get('board')).toEqual({ count: 3, sum: 3 });
    expect(shard.applied).toBe(3);
    expect(shard.checkpoints).toEqual(new Map([['t-0', 4n]]));
  });

  it('sums integer deltas exactly beyond 2^53, as the Lua does (fuzz finding, docs/fuzzing.md)', () => {
    // Prepare: int64's ends, whose double sum is 0 but whose exact sum is -16.
    const shard = emptyShardModel();
    // Act
    guard(shard, step(1n, 1n, hincrby('ann', '-9223372036854775808')), 1n);
    guard(shard, step(2n, 2n, hincrby('bob', '9223372036854775792')), 1n);
    // Assess
    expect(shard.totals.get('coins')).toEqual({ count: 2, sum: -16 });
  });

  it('rejects a first seq below firstSeq and a refused mutation without moving anything', () => {
    // Prepare
    const shard = emptyShardModel();
    shard.state.set('board', { type: 'hash', fields: new Map() });
    // Act
    const below = guard(shard, step(0n, 7n), 1n);
    const refused = guard(shard, step(1n, 8n), 1n);
    // Assess
    expect([below, refused]).toEqual([
      guardOutcomes.rejected.belowFirstSeq,
      guardOutcomes.rejected.wrongType,
    ]);
    expect(shard.cursors.size + shard.checkpoints.size + shard.totals.size + shard.applied).toBe(0);
  });

  it('guards events without a seq by offset: no gaps, and a lower offset is a duplicate', () => {
    // Prepare
    const shard = emptyShardModel();
    const event = (offset: number) => guardedEvent({ shard: 's', seq: null, offset });
    // Act
    const outcomes = [5, 9, 7].map((offset) => guardEvent(shard, event(offset), 1n));
    // Assess
    expect(outcomes.map((o) => o.kind)).toEqual(['applied', 'applied', 'duplicate']);
    expect(shard.cursors.get('o:events-0')).toEqual({ value: 9n, gaps: [] });
    expect(outcomes.map(isApplied)).toEqual([true, true, false]);
  });
});

describe('streamEntryOf()', () => {
  it('is the entry the guard appends: cursor field, coordinates, mutation, late', () => {
    const event = guardedEvent({
      shard: 's',
      scope: 'p',
      seq: 3,
      offset: 40,
      mutation: hset('name', 'Ann', '9'),
    });
    expect(streamEntryOf(event, guardOutcomes.appliedLate)).toEqual({
      scope: 's:p',
      seq: '3',
      tp: 'events-0',
      offset: '40',
      op: 'hsetIfNewer',
      keys: ['profile'],
      args: ['name', 'Ann', '9'],
      ts: '1700000000000',
      late: true,
      refused: undefined,
    });
    expect(streamEntryOf(event, { kind: 'refused', reason: 'insufficient' })).toMatchObject({
      late: false,
      refused: 'insufficient',
    });
  });
});
