import type { MSKRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { decodeRecord } from '../../../core/events/decode.ts';
import { mappingSchema } from '../../../core/events/schema.ts';
import { toExactJson } from '../../../core/producer/producer.ts';
import { seededRandom } from '../../../local/scenario/seeded-random.ts';
import { SoakModel } from '../../../local/soak/model.ts';
import {
  type EventDraft,
  envelopeOf,
  expectedReasons,
  type MalformedKind,
  malformedKinds,
  malformedValue,
  soakBursts,
} from '../../../local/soak/traffic.ts';

const decode = {
  format: 'envelope' as const,
  mapping: mappingSchema.parse({}),
  defaultShard: 'game',
  maxValueBytes: 16_384,
};

function record(value: Buffer, key = 'player-1'): MSKRecord {
  return {
    topic: 'soak',
    partition: 0,
    offset: 7,
    timestamp: 1_700_000_000_000,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(key).toString('base64'),
    value: value.toString('base64'),
    headers: [],
  };
}

const settings = {
  seed: 5,
  events: 3_000,
  players: 100,
  burstSize: 100,
  duplicateRate: 0.05,
  gapRate: 0.02,
  malformedRate: 0.02,
  maxValueBytes: 16_384,
};

describe('the soak traffic', () => {
  it.each(Object.keys(malformedKinds) as MalformedKind[])(
    'makes %s records that the sink dead-letters for their own reason',
    (kind) => {
      const random = seededRandom(1);
      for (let n = 0; n < 50; n++) {
        // Act
        const decoded = decodeRecord(
          record(malformedValue(kind, 'player-1', n, random, 16_384)),
          decode,
        );
        // Assess
        expect(decoded.kind).toBe('invalid');
        if (decoded.kind === 'invalid')
          expect(decoded.invalid.reason).toMatch(expectedReasons[kind]);
      }
    },
  );

  it('publishes events the sink applies: the envelope with the scope and the stamped seq', () => {
    const draft: EventDraft = {
      kind: 'event',
      player: 'player-9',
      delta: 4,
      late: false,
      resend: false,
    };
    const decoded = decodeRecord(
      record(Buffer.from(toExactJson(envelopeOf(draft, 12n))), 'player-9'),
      decode,
    );
    expect(decoded.kind).toBe('event');
    if (decoded.kind === 'event') {
      expect(decoded.event.sequence).toEqual({ scope: 'player-9', seq: '12' });
      expect(decoded.event.shard).toBe('game');
      expect(decoded.event.mutation).toMatchObject({
        op: 'zincrby',
        keys: ['leaderboard'],
        args: ['player-9', expect.any(String)],
      });
    }
  });

  it('draws the same bursts from the same seed, with every malformed kind in a short run', () => {
    const first = [...soakBursts(settings)];
    const again = [...soakBursts(settings)];
    expect(again).toEqual(first);
    const events = first.flat().filter((d) => d.kind === 'event');
    expect(events).toHaveLength(settings.events);
    const kinds = new Set(
      first.flat().flatMap((d) => (d.kind === 'malformed' ? [d.malformed] : [])),
    );
    expect(kinds).toEqual(new Set(Object.keys(malformedKinds)));
  });
});

describe('SoakModel', () => {
  it('counts each unique event once and merges the seqs a killed producer never sent', () => {
    // Prepare
    const model = new SoakModel();
    const drafts: EventDraft[] = [
      { kind: 'event', player: 'a', delta: 2, late: false, resend: true },
      { kind: 'event', player: 'a', delta: 3, late: true, resend: false },
    ];
    // Act
    model.add(drafts, {
      burst: 0,
      seqs: [4n, 5n],
      skipped: [
        ['a', 1n, 2n],
        ['a', 3n, 3n],
      ],
    });
    // Assess
    expect(model.scoreOf('a')).toBe(5);
    expect(model.cursorOf('a')).toBe(5n);
    expect(model.model.unique).toBe(2);
    expect(model.model.records).toBe(3);
    expect(model.expectedGaps.get('a')).toEqual([[1n, 3n]]);
    expect(model.skippedSeqs).toBe(3n);
  });
});
