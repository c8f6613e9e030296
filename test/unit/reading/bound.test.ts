/**
 * behindBound() (core/reading/bound.ts): when a read at a position may be answered, from the
 * partition ledgers and the shard's own checkpoints, and why not otherwise.
 */
import { describe, expect, it } from 'vitest';
import type { Position } from '../../../core/events/position.ts';
import { behindBound } from '../../../core/reading/bound.ts';
import type { LedgerEntry } from '../../../core/sink/ports.ts';

const at = (offset: bigint): Position => [{ topic: 'scores', partition: 0, offset }];
const ledger = (start: bigint, through: bigint, marks: [string, bigint][] = []): LedgerEntry => ({
  start,
  through,
  shards: new Map(marks),
  deadLettered: undefined,
});
const ledgers = (entry: LedgerEntry) => new Map([['scores-0', entry]]);
const held = (offset: bigint) => new Map([['scores-0', offset]]);
const whys = (behind: ReturnType<typeof behindBound>) => behind.map((b) => b.why);

describe('behindBound()', () => {
  it('answers when the run covers the offset and the shard holds its mark', () => {
    expect(
      behindBound(at(5n), ledgers(ledger(0n, 9n, [['arena', 8n]])), 'arena', held(8n)),
    ).toEqual([]);
    // The ledger alone, for a wait without a shard.
    expect(behindBound(at(9n), ledgers(ledger(0n, 9n)))).toEqual([]);
    // A shard the partition never wrote to has nothing to hold.
    expect(
      behindBound(at(5n), ledgers(ledger(0n, 9n, [['other', 8n]])), 'arena', new Map()),
    ).toEqual([]);
  });

  it('asks a shard only for its mark up to the offset: writes above the bound do not matter', () => {
    // The shard lost writes 7 and 8 but holds 6; the read is at 5.
    expect(
      behindBound(at(5n), ledgers(ledger(0n, 9n, [['arena', 8n]])), 'arena', held(6n)),
    ).toEqual([]);
    expect(
      whys(behindBound(at(7n), ledgers(ledger(0n, 9n, [['arena', 8n]])), 'arena', held(6n))),
    ).toEqual(['shardBehind']);
  });

  it('says how far behind a ledger that has not reached the offset is', () => {
    expect(behindBound(at(12n), ledgers(ledger(0n, 9n)))).toEqual([
      {
        topic: 'scores',
        partition: 0,
        offset: 12n,
        reached: 9n,
        behindBy: 3n,
        why: 'notYetHandled',
      },
    ]);
  });

  it('refuses without a ledger, before its run, and for a shard that lost what it was written', () => {
    expect(whys(behindBound(at(1n), new Map()))).toEqual(['noLedger']);
    expect(
      whys(
        behindBound(
          at(1n),
          ledgers({
            start: undefined,
            through: undefined,
            shards: new Map(),
            deadLettered: undefined,
          }),
        ),
      ),
    ).toEqual(['noLedger']);
    expect(whys(behindBound(at(1n), ledgers(ledger(4n, 9n))))).toEqual(['beforeLedger']);
    expect(
      behindBound(at(5n), ledgers(ledger(0n, 9n, [['arena', 5n]])), 'arena', new Map()),
    ).toEqual([
      {
        topic: 'scores',
        partition: 0,
        offset: 5n,
        reached: undefined,
        behindBy: undefined,
        why: 'shardBehind',
      },
    ]);
  });

  it('judges each partition of the position on its own', () => {
    const position: Position = [
      { topic: 'scores', partition: 0, offset: 3n },
      { topic: 'scores', partition: 1, offset: 3n },
    ];
    const both = new Map([
      ['scores-0', ledger(0n, 5n)],
      ['scores-1', ledger(0n, 2n)],
    ]);
    expect(behindBound(position, both).map((b) => [b.partition, b.why])).toEqual([
      [1, 'notYetHandled'],
    ]);
  });
});
