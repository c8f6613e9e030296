/**
 * The core's bookkeeping with test doubles for its two ports: which records are applied,
 * dead-lettered or retried. The guard itself is proven against Redis in test/integration.
 */
import { describe, expect, it } from 'vitest';
import {
  type ApplyRecordsOptions,
  applyRecords,
  type SinkPorts,
} from '../../functions/apply-events/apply-records.ts';
import { RedisUnavailableError } from '../../functions/shared/errors.ts';
import { mappingSchema } from '../../functions/shared/events/schema.ts';
import type { GuardedEvent } from '../../functions/shared/events/types.ts';
import type { GuardOutcome } from '../../functions/shared/redis/apply-batch.ts';
import type { DeadLetter } from '../../functions/shared/redis/dead-letter.ts';
import { mskEvent, mskRecord } from '../helpers/events.ts';

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
});
