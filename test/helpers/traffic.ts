/**
 * Traffic for the tests where Redis forgets (test/integration/redis-forgets.test.ts,
 * replica-failover.test.ts), its model, and the checks that the state equals that model: six
 * players on two partitions, events in the seed format with or without a seq, producer resends
 * of the events with one, malformed records mixed in.
 */
import { expect } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { stateKey } from '../../core/layout/keys.ts';
import { deadLetterCounts } from '../../core/redis/dead-letter.ts';
import { verifyFromTopic } from '../../tools/verify/verify.ts';
import { type DriftSetup, seed, waitFor } from './drift.ts';
import { suiteKafka, type TestRecord } from './kafka.ts';

export interface TrafficOptions {
  /** Which players' events carry a seq: all, none, or p0 p2 p4. */
  seqs: 'all' | 'none' | 'even players';
  /** One record in this many (by a fixed pattern) is a malformed one. */
  junkEvery?: number;
}

export class Traffic {
  /** The sum of each player's unique deltas: the leaderboard the state must hold. */
  readonly scores = new Map<string, number>();
  /** Where the malformed records went: `<topic>-<partition>@<offset>`. */
  readonly malformed: string[] = [];
  readonly #seqs = new Map<string, number>();
  readonly #options: Required<TrafficOptions>;
  #round = 0;

  constructor(options: TrafficOptions) {
    this.#options = { junkEvery: 17, ...options };
  }

  /** Produces the next records; returns the positions of the valid ones. */
  async send(s: DriftSetup, perPlayer: number): Promise<string[]> {
    const records: TestRecord[] = [];
    const junk: boolean[] = [];
    const { seqs, junkEvery } = this.#options;
    for (let i = 0; i < perPlayer; i++, this.#round++) {
      for (let p = 0; p < 6; p++) {
        const player = `p${p}`;
        const delta = 1 + ((this.#round * 7 + p) % 5);
        const withSeq = seqs === 'all' || (seqs === 'even players' && p % 2 === 0);
        const seq = withSeq ? (this.#seqs.get(player) ?? 0) + 1 : null;
        if (seq !== null) this.#seqs.set(player, seq);
        this.scores.set(player, (this.scores.get(player) ?? 0) + delta);
        records.push(seed(player, seq, delta));
        junk.push(false);
        // A producer resend: the same event again (only a seq tells it from a new one).
        if (seq !== null && (this.#round + p) % 9 === 0) {
          records.push(seed(player, seq, delta));
          junk.push(false);
        }
        if ((this.#round * 6 + p) % junkEvery === 0) {
          records.push({ partition: p % 2, key: player, value: 'not json' });
          junk.push(true);
        }
      }
    }
    const positions = await s.produce(records);
    positions.forEach((position, i) => {
      if (junk[i]) this.malformed.push(position);
    });
    return positions.filter((_, i) => !junk[i]);
  }
}

/**
 * The leaderboard equals the model, every malformed record is dead-lettered exactly once, and
 * verify (which recomputes the state from the topic) finds no difference.
 */
export async function expectExact(s: DriftSetup, traffic: Traffic): Promise<void> {
  const flat = await s.raw.zrange(
    stateKey('default', 'leaderboard', s.prefix),
    '0',
    '-1',
    'WITHSCORES',
  );
  const board = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) board.set(flat[i] as string, Number(flat[i + 1]));
  expect(board).toEqual(traffic.scores);

  const letters = await deadLetterCounts(s.redis, s.prefix, [s.topic]);
  expect([...letters].sort()).toEqual(traffic.malformed.map((m) => [m, 1]).sort());

  const verified = await verifyFromTopic({
    connection: suiteKafka('exact-test'),
    redis: s.redis,
    topics: [s.topic],
    sink: loadSinkConfig(s.env),
  });
  expect(verified.complete).toBe(true);
  expect(verified.differences).toEqual([]);
}

/** RedisBehindKafka went to ALARM and is back to OK. */
export async function expectRaisedAndCleared(s: DriftSetup): Promise<void> {
  await waitFor(
    () => s.monitor.transitions.some((t) => t.alarm === 'redisBehindRecords' && t.to === 'ALARM'),
    'RedisBehindKafka to be raised',
  );
  await waitFor(
    () => s.monitor.states.redisBehindRecords === 'OK',
    'RedisBehindKafka to be OK',
    60_000,
  );
}
