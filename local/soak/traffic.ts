/**
 * The soak's traffic, drawn from its seed: events in the envelope format
 * (`{scope, seq, type: 'zincrby', data: {key: 'leaderboard', member, delta}}`, one scope per
 * player), with producer resends, late events (held back to the end of their burst) and
 * malformed records of many kinds mixed in. Bursts are made as they are published; nothing here
 * grows with the number of events. Seqs are not drawn here: the producer process stamps them
 * from its durable counters (producer-child.ts).
 */

import { seededRandom } from '../scenario/seeded-random.ts';
import { demoStateName } from '../scenario/traffic-model.ts';

export interface SoakTrafficSettings {
  seed: number;
  events: number;
  players: number;
  /** Unique events per burst. */
  burstSize: number;
  duplicateRate: number;
  gapRate: number;
  malformedRate: number;
  /** The sink's SEQGUARD_MAX_VALUE_BYTES: an oversize record is just above it. */
  maxValueBytes: number;
}

/** Kinds of malformed input, each dead-lettered for its own reason. */
export const malformedKinds = {
  badUtf8: 'bad UTF-8',
  truncatedJson: 'truncated JSON',
  wrongTypes: 'wrong types',
  oversize: 'oversize',
  int64Overflow: 'int64 overflow',
  unknownOp: 'unknown op',
  randomBytes: 'random bytes',
} as const;

export type MalformedKind = keyof typeof malformedKinds;

/** The reason the sink gives each kind (the start of its dead-letter reason). */
export const expectedReasons: Record<MalformedKind, RegExp> = {
  badUtf8: /^value is not UTF-8/,
  truncatedJson: /^value is not JSON/,
  wrongTypes: /^schema: /,
  oversize: /^value is \d+ bytes, above the limit/,
  int64Overflow: /^schema: seq: must be an integer from 0 to 9223372036854775807/,
  unknownOp: /^schema: type: /,
  // Random bytes are rarely UTF-8, and if they are, rarely JSON, and never an object.
  randomBytes: /^value is not (UTF-8|JSON|a JSON object)/,
};

/** An event of the traffic before its seq is stamped. */
export interface EventDraft {
  kind: 'event';
  player: string;
  delta: number;
  /** Held back to the end of its burst: the guard opens a gap, then fills it. */
  late: boolean;
  /** Sent twice, with the same seq: a producer resend. */
  resend: boolean;
}

export interface MalformedDraft {
  kind: 'malformed';
  malformed: MalformedKind;
  /** The record key (a player), so malformed records spread over the partitions. */
  key: string;
  /** The record value, base64 (it travels to the producer process as JSON). */
  value: string;
}

export type Draft = EventDraft | MalformedDraft;

/** The envelope of a stamped event: what the producer publishes. */
export function envelopeOf(draft: EventDraft, seq: bigint) {
  return {
    scope: draft.player,
    seq,
    type: 'zincrby',
    data: { key: demoStateName, member: draft.player, delta: draft.delta },
  };
}

const kinds = Object.keys(malformedKinds) as MalformedKind[];

/** A malformed record of `kind`; `n` makes it unique, `random` fills random bytes. */
export function malformedValue(
  kind: MalformedKind,
  player: string,
  n: number,
  random: () => number,
  maxValueBytes: number,
): Buffer {
  const valid = `{"scope":"${player}","seq":${n + 1},"type":"zincrby","data":{"key":"leaderboard","member":"${player}","delta":1}}`;
  switch (kind) {
    case 'badUtf8':
      // 0xC3 0x28: a lead byte followed by a byte that cannot continue it.
      return Buffer.concat([
        Buffer.from(`{"scope":"${player}","type":"zincrby","data":{"key":"leaderboard","member":"`),
        Buffer.from([0xc3, 0x28]),
        Buffer.from(`-${n}","delta":1}}`),
      ]);
    case 'truncatedJson':
      return Buffer.from(
        valid.slice(0, Math.max(1, Math.floor(valid.length * (0.2 + 0.6 * random())))),
      );
    case 'wrongTypes':
      return Buffer.from(
        `{"scope":"${player}","seq":"n${n}","type":"zincrby","data":{"key":"leaderboard","member":["${player}"],"delta":"lots"}}`,
      );
    case 'oversize':
      return Buffer.from(
        `{"scope":"${player}","type":"zincrby","data":{"key":"leaderboard","member":"${player}","delta":1},"pad":"${'x'.repeat(maxValueBytes)}","n":${n}}`,
      );
    case 'int64Overflow':
      // One above int64's largest value, and more: no seq can be that high.
      return Buffer.from(
        `{"scope":"${player}","seq":${9223372036854775808n + BigInt(n)},"type":"zincrby","data":{"key":"leaderboard","member":"${player}","delta":1}}`,
      );
    case 'unknownOp':
      return Buffer.from(
        `{"scope":"${player}","seq":${n + 1},"type":"zmultiply","data":{"key":"leaderboard","member":"${player}","factor":2}}`,
      );
    case 'randomBytes':
      return Buffer.from(
        Array.from({ length: 8 + Math.floor(random() * 120) }, () => Math.floor(random() * 256)),
      );
  }
}

/**
 * Each burst's drafts in the order they were made, which is the order their seqs are stamped
 * in; the producer sends the late ones last. The same settings give the same bursts.
 */
export function* soakBursts(settings: SoakTrafficSettings): Generator<Draft[]> {
  const random = seededRandom(settings.seed ^ 0x5eed);
  let malformedCount = 0;
  let made = 0;
  while (made < settings.events) {
    const burst: Draft[] = [];
    const size = Math.min(settings.burstSize, settings.events - made);
    for (let i = 0; i < size; i++) {
      const player = `player-${Math.floor(random() * settings.players)}`;
      const delta = 1 + Math.floor(random() * 10);
      const late = random() < settings.gapRate;
      const resend = random() < settings.duplicateRate;
      burst.push({ kind: 'event', player, delta, late, resend });
      if (random() < settings.malformedRate) {
        // The kinds take turns, so a short run has every kind.
        const kind = kinds[malformedCount % kinds.length] as MalformedKind;
        const value = malformedValue(kind, player, malformedCount, random, settings.maxValueBytes);
        burst.push({
          kind: 'malformed',
          malformed: kind,
          key: player,
          value: value.toString('base64'),
        });
        malformedCount += 1;
      }
    }
    made += size;
    yield burst;
  }
}
