/**
 * The model of the sequence guard that verify recomputes the state with. Each case is a rule of
 * lua/applyBatch-6.lua; test/integration/verify.test.ts checks the model against the Lua itself.
 */
import type { MSKRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { loadSinkConfig } from '../../../core/config/config.ts';
import { compareDeadLetters } from '../../../tools/verify/compare.ts';
import {
  type ExpectedState,
  type ExpectedStateOptions,
  expectedState,
} from '../../../tools/verify/expected-state.ts';
import { formatVerifyReport } from '../../../tools/verify/report.ts';
import type { VerifyResult } from '../../../tools/verify/verify.ts';
import { mskRecord } from '../../helpers/events.ts';

const options: ExpectedStateOptions = {
  decode: loadSinkConfig({ REDIS_URL: 'redis://localhost:6379' }).decode,
  firstSeq: '1',
};

interface Spec {
  seq?: number | string;
  scope?: string;
  shard?: string;
  partition?: number;
  op?: 'zincrby' | 'hincrby' | 'hsetIfNewer';
  key?: string;
  target?: string;
  value?: string | number;
  version?: number | string;
}

/**
 * Records of one topic, offsets counted per partition in the order given. A spec's numbers
 * are written into the JSON text as they are, so digits above 2^53 stay exact.
 */
function records(...specs: (Spec | { raw: string; partition?: number })[]): MSKRecord[] {
  const next = new Map<number, number>();
  return specs.map((spec) => {
    const partition = spec.partition ?? 0;
    const offset = next.get(partition) ?? 0;
    next.set(partition, offset + 1);
    if ('raw' in spec) return mskRecord({ partition, offset, value: Buffer.from(spec.raw) });
    const op = spec.op ?? 'zincrby';
    const target = spec.target ?? 'p-1';
    const value = spec.value ?? 1;
    const data =
      op === 'zincrby'
        ? `{"key":"${spec.key ?? 'board'}","member":"${target}","delta":${value}}`
        : op === 'hincrby'
          ? `{"key":"${spec.key ?? 'coins'}","field":"${target}","delta":${value}}`
          : `{"key":"${spec.key ?? 'profile'}","field":"${target}","value":"${value}","version":${spec.version ?? 1}}`;
    const seq = spec.seq === undefined ? '' : `"seq":${spec.seq},`;
    const text = `{${seq}"scope":"${spec.scope ?? 'a'}","shard":"${spec.shard ?? 'game'}","type":"${op}","data":${data}}`;
    return mskRecord({ partition, offset, value: Buffer.from(text) });
  });
}

/** The expected state as plain objects, for toEqual. */
function plain(state: ExpectedState) {
  const shards: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [shard, keys] of state.shards) {
    shards[shard] = {};
    for (const [name, key] of keys) {
      (shards[shard] as Record<string, Record<string, unknown>>)[name] =
        key.type === 'zset'
          ? Object.fromEntries([...key.members].map(([m, s]) => [m, s.score]))
          : key.type === 'hash'
            ? Object.fromEntries(key.fields)
            : Object.fromEntries([...key.members].map((m) => [m, true]));
    }
  }
  return shards;
}

describe('expectedState()', () => {
  it('applies each (scope, seq) once and counts the redelivered copies as duplicates', () => {
    // Prepare
    const log = records({ seq: 1, value: 5 }, { seq: 2, value: 7 });
    // Act
    const state = expectedState([...log, ...log, log[0] as MSKRecord], options);
    // Assess
    expect(plain(state)).toEqual({ game: { board: { 'p-1': 12 } } });
    expect(state).toMatchObject({ records: 5, events: 2, duplicates: 3, invalid: 0 });
  });

  it('skips a producer resend at a later offset, even from another partition', () => {
    // Prepare
    const log = records(
      { seq: 1, value: 5 },
      { seq: 2, value: 7 },
      { seq: 2, value: 7 },
      { seq: 1, value: 5, partition: 1 },
    );
    // Act
    const state = expectedState(log, options);
    // Assess
    expect(plain(state)).toEqual({ game: { board: { 'p-1': 12 } } });
    expect(state).toMatchObject({ events: 2, duplicates: 2 });
  });

  it('applies a late event into its gap once, and keeps the rest of the gap open', () => {
    // Prepare: 1 and 4 open the gap 2..3; 3 arrives late, twice; 2 never comes.
    const log = records(
      { seq: 1, value: 1 },
      { seq: 4, value: 10 },
      { seq: 3, value: 100 },
      { seq: 3, value: 100 },
      { seq: 5, value: 1000 },
    );
    // Act
    const state = expectedState(log, options);
    // Assess
    expect(plain(state)).toEqual({ game: { board: { 'p-1': 1111 } } });
    expect(state).toMatchObject({ events: 4, late: 1, duplicates: 1 });
    const withTwo = expectedState([...log, ...records({ seq: 2, value: 10_000 })], options);
    expect(plain(withTwo)).toEqual({ game: { board: { 'p-1': 11_111 } } });
    expect(withTwo).toMatchObject({ late: 2 });
  });

  it("rejects a scope's first event below firstSeq, and skips one that comes after a cursor", () => {
    // Prepare
    const log = records(
      { seq: 0, value: 1 },
      { seq: 1, value: 10, scope: 'b' },
      { seq: 0, value: 100, scope: 'b' },
      { seq: 2, value: 1000 },
    );
    // Act
    const state = expectedState(log, options);
    // Assess: scope a starts with a gap at 1, seq 2 opens it; 0 of scope b is a mere duplicate.
    expect(plain(state)).toEqual({ game: { board: { 'p-1': 1010 } } });
    expect(state).toMatchObject({ events: 2, rejected: 1, duplicates: 1 });
  });

  it('guards events without a seq by topic-partition and offset, shard by shard', () => {
    // Prepare
    const log = records(
      { value: 1 },
      { value: 1 },
      { value: 1, partition: 1 },
      { value: 1, shard: 'other' },
    );
    const redelivered = [log[1], log[0], log[2]] as MSKRecord[];
    // Act
    const state = expectedState([...log, ...redelivered], options);
    // Assess: the same content at another offset is another event.
    expect(plain(state)).toEqual({ game: { board: { 'p-1': 3 } }, other: { board: { 'p-1': 1 } } });
    expect(state).toMatchObject({ events: 4, duplicates: 3 });
  });

  it('keeps cursors per shard: one scope and seq in two shards applies twice', () => {
    // Prepare
    const log = records({ seq: 1, shard: 'x' }, { seq: 1, shard: 'y' }, { seq: 1, shard: 'x' });
    // Act
    const state = expectedState(log, options);
    // Assess
    expect(plain(state)).toEqual({ x: { board: { 'p-1': 1 } }, y: { board: { 'p-1': 1 } } });
    expect(state).toMatchObject({ events: 2, duplicates: 1 });
  });

  it('expects malformed records in the dead-letter stream, not in the state', () => {
    // Prepare
    const log = [
      ...records(
        { raw: 'not json' },
        { raw: '{"seq":1,"scope":"a","type":"zincrby","data":{"key":"board"}}' },
        { raw: '[1,2]' },
        { seq: 1, value: 3 },
      ),
      mskRecord({ offset: 9, value: null }),
    ];
    // Act
    const state = expectedState(log, options);
    // Assess
    expect(plain(state)).toEqual({ game: { board: { 'p-1': 3 } } });
    expect(state).toMatchObject({ records: 5, events: 1, invalid: 4 });
  });

  it('keeps the value of the highest version: a stale or equal version changes nothing', () => {
    // Prepare
    const log = records(
      { seq: 1, op: 'hsetIfNewer', value: 'gold', version: 5 },
      { seq: 2, op: 'hsetIfNewer', value: 'bronze', version: 3 },
      { seq: 3, op: 'hsetIfNewer', value: 'silver', version: 5 },
      { seq: 4, op: 'hsetIfNewer', value: 'red', version: 1, target: 'color' },
    );
    // Act
    const state = expectedState(log, options);
    // Assess: stale events are applied (their seq is used up) as no-ops.
    expect(plain(state)).toEqual({ game: { profile: { 'p-1': 'gold', color: 'red' } } });
    expect(state).toMatchObject({ events: 4, duplicates: 0, rejected: 0 });
  });

  it('compares seqs, versions and counters above 2^53 exactly', () => {
    // Prepare: as doubles, 2^53 + 1 and 2^53 are one number.
    const log = records(
      { seq: '9007199254740993', op: 'hincrby', value: '9007199254740993' },
      { seq: '9007199254740992', op: 'hincrby', value: 1 },
      { seq: '9007199254740993', op: 'hincrby', value: 1 },
      { seq: '9223372036854775807', op: 'hsetIfNewer', version: '9007199254740993', value: 'a' },
      { seq: '9007199254740991', op: 'hsetIfNewer', version: '9007199254740992', value: 'b' },
    );
    // Act
    const state = expectedState(log, { ...options, firstSeq: '9007199254740990' });
    // Assess
    expect(plain(state)).toEqual({
      game: { coins: { 'p-1': 9007199254740994n }, profile: { 'p-1': 'a' } },
    });
    expect(state).toMatchObject({ events: 4, late: 2, duplicates: 1 });
  });

  it('rejects what Redis refuses, without moving the cursor: wrong type, overflow, underflow', () => {
    // Prepare
    const log = records(
      { seq: 1, value: 1 },
      { seq: 2, op: 'hincrby', key: 'board' },
      { seq: 3, op: 'hincrby', value: '9223372036854775807' },
      { seq: 4, op: 'hincrby', value: 1 },
      { seq: 4, value: '"1e-400"' },
      { seq: 4, value: 2 },
      { seq: 5, op: 'hsetIfNewer', key: 'board', value: 'x', version: 1 },
    );
    // Act
    const state = expectedState(log, options);
    // Assess: seq 4 is refused twice (overflow, underflow to zero), then applied.
    expect(plain(state)).toEqual({
      game: { board: { 'p-1': 3 }, coins: { 'p-1': 9223372036854775807n } },
    });
    expect(state).toMatchObject({ events: 3, rejected: 4, duplicates: 0 });
  });
});

describe('formatVerifyReport()', () => {
  const base: VerifyResult = {
    complete: true,
    firstOffsets: [],
    partitions: 3,
    records: 1200,
    missingOffsets: 0,
    refused: 0,
    events: 1000,
    late: 2,
    duplicates: 190,
    invalid: 10,
    rejected: 0,
    differences: [],
  };

  it('prints one line per difference, then the summary', () => {
    // Prepare
    const result: VerifyResult = {
      ...base,
      differences: [
        { shard: 'game', key: 'board', target: 'p-1', kind: 'value', expected: '15', actual: '20' },
        {
          shard: 'game',
          key: 'coins',
          target: 'w 1',
          kind: 'missing',
          expected: '7',
          actual: null,
        },
        { shard: 'game', key: 'bag', target: null, kind: 'type', expected: 'hash', actual: 'zset' },
      ],
    };
    // Act
    const lines = formatVerifyReport(result).split('\n');
    // Assess
    expect(lines).toEqual([
      'game board p-1: expected 15, Redis has 20',
      'game coins "w 1": expected 7, Redis has none',
      'game bag: expected a hash, Redis has a zset',
      'DRIFT: 3 differences between Redis and the topic; 1,200 records in 3 partitions: 1,000 events applied (2 late), 190 duplicates, 0 refused, 10 invalid and 0 rejected (dead-lettered)',
    ]);
  });

  it('says so when retention deleted the start of a partition', () => {
    // Prepare
    const result: VerifyResult = {
      ...base,
      complete: false,
      firstOffsets: [{ topicPartition: 'events-1', earliest: 40n }],
    };
    // Act
    const lines = formatVerifyReport(result).split('\n');
    // Assess
    expect(lines[0]).toBe('events-1 starts at offset 40: older records were deleted');
    expect(lines[1]).toMatch(/^INCOMPLETE: 1 of 3 partitions no longer start at offset 0/);
  });
});

describe('compareDeadLetters()', () => {
  it('finds each invalid record missing, extra or there more than once', () => {
    const differences = compareDeadLetters(
      ['t-0@1', 't-0@4', 't-1@2'],
      new Map([
        ['t-0@1', 1],
        ['t-0@4', 2],
        ['t-1@9', 1],
      ]),
    );
    expect(differences.map((d) => [d.target, d.kind, d.expected, d.actual])).toEqual([
      ['t-0@4', 'value', '1', '2'],
      ['t-1@2', 'missing', '1', null],
      ['t-1@9', 'extra', null, '1'],
    ]);
    expect(compareDeadLetters(['t-0@1'], new Map([['t-0@1', 1]]))).toEqual([]);
  });
});
