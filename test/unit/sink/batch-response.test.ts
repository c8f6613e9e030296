import { describe, expect, it } from 'vitest';
import { batchResponse, recordsByPartition } from '../../../core/sink/batch-response.ts';
import { mskEvent, mskRecord } from '../../helpers/events.ts';

describe('recordsByPartition()', () => {
  it('groups by topic-partition and orders each by offset', () => {
    const event = mskEvent([
      mskRecord({ topic: 'a', partition: 0, offset: 5, value: {} }),
      mskRecord({ topic: 'a', partition: 1, offset: 1, value: {} }),
      mskRecord({ topic: 'a', partition: 0, offset: 3, value: {} }),
    ]);
    const partitions = recordsByPartition(event);
    expect([...partitions.keys()]).toEqual(['a-0', 'a-1']);
    expect(partitions.get('a-0')?.map((r) => r.offset)).toEqual([3, 5]);
  });
});

describe('batchResponse()', () => {
  it('names the first failed record of each partition and every record after it', () => {
    const event = mskEvent([
      ...[10, 11, 12, 13].map((offset) =>
        mskRecord({ topic: 't', partition: 0, offset, value: {} }),
      ),
      ...[7, 8].map((offset) => mskRecord({ topic: 't', partition: 1, offset, value: {} })),
    ]);
    const response = batchResponse(recordsByPartition(event), new Map([['t-0', 12]]));
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: 't-0', offset: 12 } },
        { itemIdentifier: { partition: 't-0', offset: 13 } },
      ],
    });
  });

  it('is empty when nothing failed', () => {
    const event = mskEvent([mskRecord({ offset: 1, value: {} })]);
    expect(batchResponse(recordsByPartition(event), new Map())).toEqual({ batchItemFailures: [] });
  });
});
