/**
 * Positions and their tokens (core/events/position.ts): merging keeps the highest offset per
 * partition, a token reads back as the position it was made of, and anything else (garbage, a
 * cut or altered token, offsets and partitions Kafka cannot have) fails with a PositionError
 * that says what is wrong.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PositionError } from '../../../core/errors.ts';
import {
  mergePositions,
  type PartitionOffset,
  parsePositionToken,
  positionOf,
  positionToken,
} from '../../../core/events/position.ts';

const topicName = fc.stringMatching(/^[a-zA-Z0-9._-]{1,30}$/);
const partitionOffset = fc.record({
  topic: fc.constantFrom('scores', 'payouts', 'a.b-c_d'),
  partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
});

describe('positions', () => {
  it('merge by the highest offset of each partition, sorted by topic and partition', () => {
    const merged = mergePositions(
      [
        { topic: 'b', partition: 1, offset: 5n },
        { topic: 'a', partition: 2, offset: 9n },
      ],
      [
        { topic: 'b', partition: 1, offset: 3n },
        { topic: 'b', partition: 0, offset: 7n },
      ],
    );
    expect(merged).toEqual([
      { topic: 'a', partition: 2, offset: 9n },
      { topic: 'b', partition: 0, offset: 7n },
      { topic: 'b', partition: 1, offset: 5n },
    ]);
  });

  it('merge as the model does: per partition the maximum of every position', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(partitionOffset, { maxLength: 6 }), { maxLength: 4 }),
        (lists) => {
          const model = new Map<string, bigint>();
          for (const p of lists.flat()) {
            const key = `${p.topic}/${p.partition}`;
            const held = model.get(key);
            if (held === undefined || p.offset > held) model.set(key, p.offset);
          }
          const merged = mergePositions(...lists);
          expect(merged).toHaveLength(model.size);
          for (const p of merged) expect(p.offset).toBe(model.get(`${p.topic}/${p.partition}`));
        },
      ),
    );
  });

  it('read back from their token, which holds only base64url after its prefix', () => {
    fc.assert(
      fc.property(fc.array(partitionOffset, { minLength: 1, maxLength: 12 }), (list) => {
        const position = positionOf(list);
        const token = positionToken(position);
        expect(token).toMatch(/^p1\.[A-Za-z0-9_-]+$/);
        expect(parsePositionToken(token)).toEqual(position);
      }),
    );
    fc.assert(
      fc.property(topicName, (topic) => {
        const position = positionOf([{ topic, partition: 3, offset: 12n }]);
        expect(parsePositionToken(positionToken(position))).toEqual(position);
      }),
    );
    // Short: three partitions of one topic.
    const three = positionOf(
      [0, 1, 2].map((partition) => ({ topic: 'scores', partition, offset: 1_234_567n })),
    );
    expect(positionToken(three).length).toBeLessThan(70);
  });

  it('read back the empty position from its token, p1. (fuzz finding, docs/fuzzing.md)', () => {
    expect(positionToken([])).toBe('p1.');
    expect(parsePositionToken(positionToken([]))).toEqual([]);
  });

  it.each([
    ['', /does not start with "p1\."/],
    ['garbage', /does not start with "p1\."/],
    ['p1.!!!', /not base64url/],
    [`p1.${Buffer.from('scores\t0:1\nscores\t0:2').toString('base64url')}`, /named twice/],
    [`p1.${Buffer.from('scores\t0:-1').toString('base64url')}`, /is not partition:offset/],
    [`p1.${Buffer.from('scores\t0:01').toString('base64url')}`, /is not partition:offset/],
    [`p1.${Buffer.from('scores\t0:9223372036854775808').toString('base64url')}`, /out of range/],
    [`p1.${Buffer.from('scores\t2147483648:1').toString('base64url')}`, /out of range/],
    [`p1.${Buffer.from('sc ores\t0:1').toString('base64url')}`, /not a Kafka topic name/],
    [`p1.${Buffer.from('scores 0:1').toString('base64url')}`, /not a topic and its partitions/],
    [`p1.${'A'.repeat(20_000)}`, /longer than/],
  ])('refuse the token %j with a PositionError', (token, why) => {
    expect(() => parsePositionToken(token)).toThrow(PositionError);
    expect(() => parsePositionToken(token)).toThrow(why);
  });

  it('refuse a cut or altered token', () => {
    const token = positionToken(positionOf([{ topic: 'scores', partition: 0, offset: 42n }]));
    fc.assert(
      fc.property(fc.integer({ min: 3, max: token.length - 1 }), (cut) => {
        // Any prefix of the token either fails to parse or names another position.
        let parsed: unknown;
        try {
          parsed = parsePositionToken(token.slice(0, cut));
        } catch (error) {
          expect(error).toBeInstanceOf(PositionError);
          return;
        }
        expect(parsed).not.toEqual(parsePositionToken(token));
      }),
    );
  });

  it.each<[string, PartitionOffset]>([
    ['a negative offset', { topic: 'scores', partition: 0, offset: -1n }],
    ['an offset past int64', { topic: 'scores', partition: 0, offset: 2n ** 63n }],
    ['a negative partition', { topic: 'scores', partition: -1, offset: 0n }],
    ['a fractional partition', { topic: 'scores', partition: 0.5, offset: 0n }],
    ['an empty topic', { topic: '', partition: 0, offset: 0n }],
    ['a topic of 250 characters', { topic: 'x'.repeat(250), partition: 0, offset: 0n }],
  ])('refuse %s', (_what, entry) => {
    expect(() => positionOf([entry])).toThrow(PositionError);
  });
});
