/**
 * The delta-stream view's members in order (core/reading/stream-view.ts, SortedMembers): after
 * any sequence of score changes, additions and removals, the members are in ZRANGE's order
 * (score, then member by UTF-8 bytes), each once, with its last score.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SortedMembers } from '../../../core/reading/stream-view.ts';

const byteOrder = (a: string, b: string) =>
  Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('SortedMembers', () => {
  it('keeps ZRANGE order through any history of changes', () => {
    // A few names that meet often, and many more (moves of many ranks, in both directions).
    const member = fc.oneof(
      fc.constantFrom('ann', 'bob', 'cid', 'dan', 'é', '😀', 'ｚ', 'a', 'b'),
      fc.string({ minLength: 1, maxLength: 2 }),
    );
    const change = fc.record({
      member,
      score: fc.option(fc.integer({ min: -30, max: 30 }), { nil: undefined, freq: 8 }),
    });
    fc.assert(
      fc.property(fc.array(change, { maxLength: 400 }), (changes) => {
        const members = new SortedMembers();
        const model = new Map<string, number>();
        for (const { member, score } of changes) {
          members.set(member, score);
          if (score === undefined) model.delete(member);
          else model.set(member, score);
        }
        const expected = [...model]
          .map(([m, score]) => ({ member: m, score }))
          .sort((a, b) =>
            a.score === b.score ? byteOrder(a.member, b.member) : a.score - b.score,
          );
        const order = (m: SortedMembers) => m.slots.map(({ member, score }) => ({ member, score }));
        expect(order(members)).toEqual(expected);
        // Sorted at once, as a warm-up sorts them: the same order.
        expect(order(SortedMembers.from(model))).toEqual(expected);
        for (const [i, slot] of expected.entries()) expect(members.index(slot.member)).toBe(i);
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps the order across block splits and emptied blocks (thousands of members)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        // A long history over 3,000 members, from a seeded generator: blocks split (past 1,024
        // slots) and empty again as members leave.
        let state = seed;
        const next = (n: number) => {
          state = (Math.imul(state, 48271) + 11) % 2147483647;
          return Math.abs(state) % n;
        };
        const members = SortedMembers.from([]);
        const model = new Map<string, number>();
        for (let i = 0; i < 12_000; i++) {
          const member = `m${next(3_000)}`;
          const score = next(10) === 0 && i > 6_000 ? undefined : next(40);
          members.set(member, score);
          if (score === undefined) model.delete(member);
          else model.set(member, score);
        }
        const expected = [...model]
          .map(([member, score]) => ({ member, score }))
          .sort((a, b) =>
            a.score === b.score ? byteOrder(a.member, b.member) : a.score - b.score,
          );
        expect(members.slots.map(({ member, score }) => ({ member, score }))).toEqual(expected);
        expect(members.size).toBe(expected.length);
        for (const i of [0, 1, 777, 1_024, expected.length - 1])
          if (expected[i])
            expect(members.index((expected[i] as { member: string }).member)).toBe(i);
      }),
      { numRuns: 10 },
    );
  });
});
