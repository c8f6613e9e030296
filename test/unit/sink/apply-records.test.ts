/**
 * The core's bookkeeping with test doubles for its two ports: which records are applied,
 * dead-lettered or retried. The guard itself is proven against Redis in test/integration.
 */
import { describe, expect, it } from 'vitest';
import { RedisBehindError, RedisUnavailableError } from '../../../core/errors.ts';
import { mappingSchema } from '../../../core/events/schema.ts';
import type { GuardedEvent } from '../../../core/events/types.ts';
import type { GuardOutcome } from '../../../core/guard/model.ts';
import { type ApplyRecordsOptions, applyRecords } from '../../../core/sink/apply-records.ts';
import type {
  DeadLetter,
  ExpectedCheckpoints,
  LedgerAdvance,
  LedgerEntry,
  SinkPorts,
} from '../../../core/sink/ports.ts';
import { mskEvent, mskRecord } from '../../helpers/events.ts';

const options: ApplyRecordsOptions = {
  decode: {
    format: 'envelope',
    mapping: mappingSchema.parse({}),
    defaultShard: 'default',
    maxValueBytes: 4096,
  },
  chunkSize: 2,
  shardConcurrency: 4,
};

const event = (shard: string, seq: number) => ({
  scope: 's',
  seq,
  shard,
  type: 'zincrby',
  data: { key: 'b', member: 'm', delta: 1 },
});

/** Ports that record their calls; shards listed in `failing` throw, outcomes by seq. */
function ports(failing: string[] = [], rejectSeqs: number[] = [], deadLettersFail = false) {
  const calls: { shard: string; offsets: string[] }[] = [];
  const letters: DeadLetter[] = [];
  const sinkPorts: SinkPorts = {
    async applyChunk(shard: string, events: readonly GuardedEvent[]): Promise<GuardOutcome[]> {
      calls.push({ shard, offsets: events.map((e) => e.record.offset) });
      if (failing.includes(shard)) throw new RedisUnavailableError(`shard ${shard} is down`);
      return events.map((e) =>
        rejectSeqs.includes(Number(e.sequence?.seq))
          ? { kind: 'rejected', reason: 'wrongType', message: 'wrong type' }
          : { kind: 'applied' },
      );
    },
    async appendDeadLetters(batch: readonly DeadLetter[]) {
      if (deadLettersFail) throw new RedisUnavailableError('dead-letter stream unavailable');
      letters.push(...batch);
      return batch.map(() => ({ kind: 'appended' as const }));
    },
  };
  return { sinkPorts, calls, letters };
}

describe('applyRecords()', () => {
  it('applies each shard in chunks, in offset order, and acknowledges everything', async () => {
    const { sinkPorts, calls } = ports();
    const records = [0, 1, 2, 3, 4].map((offset) =>
      mskRecord({ partition: 0, offset, value: event(offset % 2 ? 'odd' : 'even', offset + 1) }),
    );
    const result = await applyRecords(mskEvent(records), sinkPorts, options);
    expect(result.response).toEqual({ batchItemFailures: [] });
    expect(calls).toEqual([
      { shard: 'even', offsets: ['0', '2'] },
      { shard: 'odd', offsets: ['1', '3'] },
      { shard: 'even', offsets: ['4'] },
    ]);
    expect(result.summary).toMatchObject({ records: 5, applied: 5, retried: 0, deadLettered: 0 });
  });

  it('retries a partition from its first failed record, and fails later chunks of the failed shard', async () => {
    const { sinkPorts, calls } = ports(['down']);
    const records = [
      mskRecord({ partition: 0, offset: 10, value: event('up', 1) }),
      mskRecord({ partition: 0, offset: 11, value: event('down', 1) }),
      mskRecord({ partition: 0, offset: 12, value: event('up', 2) }),
      mskRecord({ partition: 1, offset: 5, value: event('up', 3) }),
      mskRecord({ partition: 1, offset: 6, value: event('up', 4) }),
    ];
    const result = await applyRecords(mskEvent(records), sinkPorts, { ...options, chunkSize: 10 });
    expect(result.response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'events-0', offset: 11 } },
      { itemIdentifier: { partition: 'events-0', offset: 12 } },
    ]);
    expect(calls.find((c) => c.shard === 'up')?.offsets).toEqual(['10', '12', '5', '6']);
    expect(result.summary.errors).toHaveLength(1);
    expect(result.summary.errors[0]).toBeInstanceOf(RedisUnavailableError);
  });

  it('stops a shard at its first failed chunk: later chunks are not sent', async () => {
    const { sinkPorts, calls } = ports(['down']);
    const records = [1, 2, 3, 4, 5].map((offset) =>
      mskRecord({ partition: 0, offset, value: event('down', offset) }),
    );
    const result = await applyRecords(mskEvent(records), sinkPorts, options);
    expect(calls).toHaveLength(1);
    expect(result.response.batchItemFailures.map((f) => f.itemIdentifier.offset)).toEqual([
      1, 2, 3, 4, 5,
    ]);
  });

  it('dead-letters invalid records and guard rejections, but only below the first failure of their partition', async () => {
    const { sinkPorts, letters } = ports(['down'], [7]);
    const records = [
      mskRecord({ partition: 0, offset: 1, value: 'not json' }),
      mskRecord({ partition: 0, offset: 2, value: event('up', 7) }),
      mskRecord({ partition: 0, offset: 3, value: event('down', 1) }),
      mskRecord({ partition: 0, offset: 4, value: 'not json either' }),
      mskRecord({ partition: 1, offset: 9, value: '[]' }),
    ];
    const result = await applyRecords(mskEvent(records), sinkPorts, options);
    expect(letters.map((l) => [l.record.partition, l.record.offset, l.reason])).toEqual([
      [0, 1, expect.stringMatching(/^value is not JSON/)],
      [0, 2, 'guard: wrong type'],
      [1, 9, 'value is not a JSON object'],
    ]);
    // Offset 4 is retried with offset 3, and dead-lettered when it comes again.
    expect(result.response.batchItemFailures.map((f) => f.itemIdentifier.offset)).toEqual([3, 4]);
    expect(result.summary.deadLettered).toBe(3);
  });

  it('retries dead letters when the dead-letter stream cannot be written', async () => {
    const { sinkPorts } = ports([], [], true);
    const records = [
      mskRecord({ partition: 0, offset: 1, value: event('up', 1) }),
      mskRecord({ partition: 0, offset: 2, value: 'bad' }),
      mskRecord({ partition: 0, offset: 3, value: event('up', 2) }),
    ];
    const result = await applyRecords(mskEvent(records), sinkPorts, options);
    expect(result.response.batchItemFailures.map((f) => f.itemIdentifier.offset)).toEqual([2, 3]);
    expect(result.summary.deadLettered).toBe(0);
  });

  it('counts outcomes by kind', async () => {
    const outcomes: GuardOutcome[] = [
      { kind: 'applied' },
      { kind: 'appliedLate' },
      { kind: 'gapOpened' },
      { kind: 'duplicate' },
    ];
    const sinkPorts: SinkPorts = {
      applyChunk: async (_shard, events) => events.map((_, i) => outcomes[i] as GuardOutcome),
      appendDeadLetters: async () => [],
    };
    const records = [1, 2, 3, 4].map((offset) => mskRecord({ offset, value: event('s', offset) }));
    const { summary } = await applyRecords(mskEvent(records), sinkPorts, {
      ...options,
      chunkSize: 10,
    });
    expect(summary).toMatchObject({ applied: 3, late: 1, gapsOpened: 1, duplicates: 1 });
  });

  it('enters a shard in the registry after each of its chunks, and fails the chunk when that fails', async () => {
    // Prepare: the registry of shard 'lost' cannot be written.
    const { sinkPorts, calls } = ports();
    const steps: string[] = [];
    const registering: SinkPorts = {
      ...sinkPorts,
      applyChunk: async (shard, events) => {
        steps.push(`apply ${shard}`);
        return sinkPorts.applyChunk(shard, events);
      },
      registerShard: async (shard) => {
        steps.push(`register ${shard}`);
        if (shard === 'lost') throw new RedisUnavailableError('registry unavailable');
      },
    };
    const records = [
      mskRecord({ partition: 0, offset: 1, value: event('kept', 1) }),
      mskRecord({ partition: 0, offset: 2, value: event('kept', 2) }),
      mskRecord({ partition: 0, offset: 3, value: event('kept', 3) }),
      mskRecord({ partition: 1, offset: 1, value: event('lost', 1) }),
      mskRecord({ partition: 1, offset: 2, value: event('lost', 2) }),
      mskRecord({ partition: 1, offset: 3, value: event('lost', 3) }),
    ];

    // Act
    const result = await applyRecords(mskEvent(records), registering, {
      ...options,
      shardConcurrency: 1,
    });

    // Assess: each chunk is followed by its registration; a failed one fails its chunk and
    // every later chunk of the shard, as a failed chunk does.
    expect(steps).toEqual([
      'apply kept',
      'register kept',
      'apply kept',
      'register kept',
      'apply lost',
      'register lost',
    ]);
    expect(calls.map((c) => c.shard)).toEqual(['kept', 'kept', 'lost']);
    expect(result.response.batchItemFailures).toEqual(
      [1, 2, 3].map((offset) => ({ itemIdentifier: { partition: 'events-1', offset } })),
    );
    expect(result.summary).toMatchObject({ applied: 3, retried: 3 });
    expect(result.summary.errors[0]).toBeInstanceOf(RedisUnavailableError);
  });
});

/** A ledger double: entries to read, advances recorded, and what Kafka holds between offsets. */
function withLedger(
  sinkPorts: SinkPorts,
  entries: Record<string, Partial<LedgerEntry>>,
  kafkaHasRecords?: boolean,
) {
  const advances: [string, LedgerAdvance][] = [];
  const expectedByShard: Record<string, ExpectedCheckpoints>[] = [];
  const applyChunk = sinkPorts.applyChunk;
  const ported: SinkPorts = {
    ...sinkPorts,
    applyChunk: (shard, events, expected) => {
      expectedByShard.push({ [shard]: expected ?? {} });
      return applyChunk(shard, events, expected);
    },
    ledger: {
      read: async (partition) =>
        entries[partition]
          ? {
              through: undefined,
              start: undefined,
              shards: new Map(),
              deadLettered: undefined,
              ...entries[partition],
            }
          : undefined,
      advance: async (partition, advance) => {
        advances.push([partition, advance]);
        return true;
      },
      ...(kafkaHasRecords === undefined ? {} : { hasRecords: async () => kafkaHasRecords }),
    },
  };
  return { ported, advances, expectedByShard };
}

describe('applyRecords() with a partition ledger', () => {
  const batch = (partition: number, offsets: number[]) =>
    mskEvent(offsets.map((offset) => mskRecord({ partition, offset, value: event('s1', offset) })));

  it('records what it handled: the run through the last record, the highest offset per shard', async () => {
    // Prepare
    const { sinkPorts } = ports();
    const { ported, advances } = withLedger(sinkPorts, { 'events-0': { through: 9n } });
    // Act
    const result = await applyRecords(batch(0, [10, 11, 12]), ported, options);
    // Assess
    expect(result.response.batchItemFailures).toEqual([]);
    expect(advances).toEqual([
      ['events-0', { from: 10n, to: 12n, shards: new Map([['s1', 12n]]), deadLettered: undefined }],
    ]);
  });

  it('refuses a batch that starts past the ledger when Kafka holds records in between', async () => {
    // Prepare: the ledger ends at 9; the batch starts at 15; offsets 10..14 hold records.
    const { sinkPorts, calls } = ports();
    const { ported, advances } = withLedger(sinkPorts, { 'events-0': { through: 9n } }, true);
    // Act
    const result = await applyRecords(batch(0, [15, 16]), ported, options);
    // Assess
    expect(calls).toEqual([]);
    expect(result.response.batchItemFailures.map((f) => f.itemIdentifier.offset)).toEqual([15, 16]);
    expect(result.summary.errors[0]).toBeInstanceOf(RedisBehindError);
    expect(result.summary.errors[0]?.message).toMatch(/offsets 10\.\.14/);
    expect(advances).toEqual([]);
  });

  it('goes on over offsets that hold no record (transaction markers), and joins the run', async () => {
    const { sinkPorts } = ports();
    const { ported, advances } = withLedger(sinkPorts, { 'events-0': { through: 9n } }, false);
    const result = await applyRecords(batch(0, [12, 13]), ported, options);
    expect(result.response.batchItemFailures).toEqual([]);
    expect(advances[0]?.[1]).toMatchObject({ from: 10n, to: 13n });
  });

  it('takes a gap in offsets for a hole when it cannot ask Kafka', async () => {
    const { sinkPorts } = ports();
    const { ported } = withLedger(sinkPorts, { 'events-0': { through: 9n } });
    const result = await applyRecords(batch(0, [12]), ported, options);
    expect(result.response.batchItemFailures).toHaveLength(1);
  });

  it('refuses a partition without a ledger whose log holds earlier records: Redis lost it all', async () => {
    const { sinkPorts } = ports();
    const { ported } = withLedger(sinkPorts, {}, true);
    const result = await applyRecords(batch(0, [40, 41]), ported, options);
    expect(result.response.batchItemFailures).toHaveLength(2);
  });

  it('tells each shard the checkpoint the ledger says it holds', async () => {
    const { sinkPorts } = ports();
    const { ported, expectedByShard } = withLedger(sinkPorts, {
      'events-0': { through: 9n, shards: new Map([['s1', 8n]]) },
    });
    await applyRecords(batch(0, [10]), ported, options);
    expect(expectedByShard).toEqual([{ s1: { 'events-0': '8' } }]);
  });

  it('in a repair, checks nothing and extends the run over the whole range read', async () => {
    const { sinkPorts, calls } = ports();
    const { ported, advances } = withLedger(sinkPorts, { 'events-0': { through: 9n } }, true);
    const result = await applyRecords(batch(0, [15, 16]), ported, {
      ...options,
      repair: new Map([['events-0', { from: 10n, to: 20n }]]),
    });
    expect(result.response.batchItemFailures).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(advances[0]?.[1]).toMatchObject({ from: 10n, to: 19n });
  });
});
