/**
 * The soak's traffic, drawn from its seed: events in the envelope format (`{scope, seq, type,
 * data}`) of every kind of mutation the sink registers (`scenarioMutations`: the built-ins and
 * the capped counter), with producer resends, late events (held back to the end of their burst)
 * and malformed records of many kinds mixed in. Bursts are made as they are published; nothing
 * here grows with the number of events. Seqs are not drawn here: the producer process stamps
 * them from its durable counters (producer-child.ts).
 *
 * Each state entry is written by the events of one scope only, so that its partition's order is
 * the order it is mutated in, and the model can tell which debits, transfers and spins are
 * refused (their turn decides it):
 * - the player's scope: the leaderboard (zincrby), the best round (zmax), who is online (sadd,
 *   srem), the daily spins (cappedIncr, refused "capped" past `spinCap`);
 * - the player's team's scope (`teamSize` players; the first `coinPlayers` players have coins):
 *   the players' coins in `wallet`, won (hincrby), spent (debit, refused "insufficient" below
 *   the floor, 0 or an overdraft's -10), given to a teammate (transfer within the key) and moved
 *   to and from the team's `vault` (a transfer between two keys of the shard), both refused
 *   "insufficient" too.
 */

import { seededRandom } from '../scenario/seeded-random.ts';
import { demoStateName } from '../scenario/traffic-model.ts';

/** The state keys the soak's events mutate, all of one shard. */
export const soakStates = {
  leaderboard: demoStateName,
  best: 'best',
  online: 'online',
  spins: 'spins',
  wallet: 'wallet',
  vault: 'vault',
} as const;

/** The most spins a player may have (cappedIncr's cap). */
export const spinCap = 4;

/** Players per team: a team's scope orders its players' coins. */
export const teamSize = 10;

/**
 * Players with coins: the first ones, few enough that each sees many coins events, so that
 * balances go up and down and debits and transfers are both applied and refused.
 */
export const coinPlayers = 500;

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
  /** The scope its seq is stamped in: the player's, or the player's team's. */
  scope: string;
  /** The player it is about. */
  player: string;
  /** The envelope's type (a registered mutation) and data. */
  type: string;
  data: Record<string, string | number>;
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
  return { scope: draft.scope, seq, type: draft.type, data: draft.data };
}

/** What an event draft is besides its delivery (late, resend). */
type Drawn = Pick<EventDraft, 'scope' | 'player' | 'type' | 'data'>;

const amount = (random: () => number, max: number) => 1 + Math.floor(random() * max);

/** A coins event of player `index`, in its team's scope. */
function coinsEvent(random: () => number, index: number, players: number): Drawn {
  const team = Math.floor(index / teamSize);
  const scope = `team-${team}`;
  const player = `player-${index}`;
  const first = team * teamSize;
  const members = Math.min(teamSize, players - first);
  const { wallet, vault } = soakStates;
  const roll = random();
  const event = (type: string, data: Drawn['data']): Drawn => ({ scope, player, type, data });
  if (roll < 0.35)
    return event('hincrby', { key: wallet, field: player, delta: amount(random, 20) });
  if (roll < 0.65) {
    const data: Drawn['data'] = { key: wallet, field: player, amount: amount(random, 25) };
    if (random() < 0.2) data.floor = -10; // an overdraft allowed
    return event('debit', data);
  }
  if (roll < 0.82 && members > 1) {
    const teammate = first + ((index - first + amount(random, members - 1)) % members);
    return event('transfer', {
      key: wallet,
      from: player,
      to: `player-${teammate}`,
      amount: amount(random, 15),
    });
  }
  if (roll < 0.91)
    return event('transfer', {
      key: wallet,
      from: player,
      toKey: vault,
      to: scope,
      amount: amount(random, 10),
    });
  return event('transfer', {
    key: vault,
    from: scope,
    toKey: wallet,
    to: player,
    amount: amount(random, 20),
  });
}

/** One event of the mix: half of them leaderboard points, a quarter coins, the rest the others. */
export function drawEvent(random: () => number, players: number): Drawn {
  const index = Math.floor(random() * players);
  const player = `player-${index}`;
  const { leaderboard, best, online, spins } = soakStates;
  const roll = random();
  const event = (type: string, data: Drawn['data']): Drawn => ({
    scope: player,
    player,
    type,
    data,
  });
  if (roll < 0.5)
    return event('zincrby', { key: leaderboard, member: player, delta: amount(random, 10) });
  if (roll < 0.58)
    return event('zmax', { key: best, member: player, score: Math.floor(random() * 4000) / 4 });
  if (roll < 0.66) return event(random() < 0.6 ? 'sadd' : 'srem', { key: online, member: player });
  if (roll < 0.75)
    return event('cappedIncr', {
      key: spins,
      field: player,
      delta: amount(random, 3),
      cap: spinCap,
    });
  const coins = Math.min(players, coinPlayers);
  return coinsEvent(random, Math.floor(random() * coins), coins);
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
      const drawn = drawEvent(random, settings.players);
      const { player } = drawn;
      const late = random() < settings.gapRate;
      const resend = random() < settings.duplicateRate;
      burst.push({ kind: 'event', ...drawn, late, resend });
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
