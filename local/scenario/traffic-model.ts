/**
 * The demo's traffic and its model, and the model the soak shares.
 *
 * The traffic: events in the seed article's format `{sequence_id, player_id, delta}` (the
 * leaderboard, one scope per player) and, at `walletRate`, wallet events in the envelope format
 * (credits, debits and transfers between the players' wallets, all in one scope, the ledger's),
 * in bursts of a tenth of a second at the requested rate, with producer resends, late events
 * (held back to the end of their burst) and malformed records mixed in, all drawn from a fixed
 * seed so every run publishes the same records. The sink decodes one format per deployment, so
 * the two kinds go to two topics, each with its own function: the seed format's, and the
 * envelope's.
 *
 * The model: the guard's pure model (core/guard/model.ts), fed each record in the order the
 * guard of its scope sees it, which is the order of the scope's partition: the order the bursts
 * publish them in. A debit or a transfer is judged on the balance at its turn, so only that order
 * says which are refused; it is why every wallet event is in one scope (a transfer between two
 * players of two scopes would be judged in an order no one can tell: their partitions').
 *
 * Nothing here grows with the number of events: the bursts are generated as they are published,
 * and the model keeps one entry per player and state (its score, balance, cursor).
 */
import {
  cursorField,
  defaultMutations,
  emptyShardModel,
  type GuardOutcome,
  guard,
  type Mutation,
  type MutationRegistry,
  type ShardModel,
} from '../../core/index.ts';
import {
  defaultFirstSeq,
  inMemorySequenceSource,
  type OutgoingEvent,
  stampEnvelope,
  stampSeedEvent,
} from '../../core/producer/index.ts';

import { TrafficModelError } from './errors.ts';
import { seededRandom } from './seeded-random.ts';

export interface TrafficSettings {
  events: number;
  players: number;
  /** Events per second; a burst holds a tenth of a second's worth. */
  rate: number;
  duplicateRate: number;
  gapRate: number;
  malformedRate: number;
  /** The share of the events that are wallet events (absent or 0: none, the leaderboard only). */
  walletRate?: number;
}

/** The state name the seed format's events mutate (the default mapping's). */
export const demoStateName = 'leaderboard';

/** The state name of the players' balances (a hash: player -> coins). */
export const walletStateName = 'wallet';

/** The scope of every wallet event: the ledger's one sequence orders them all. */
export const ledgerScope = 'ledger';

/** Players with a wallet: the first ones, few, so that balances run out and debits are refused. */
export const walletPlayers = 20;

/** What the guard made of the unique events of one op. */
export interface OpCounts {
  applied: number;
  /** Refusal reason -> events refused for it. */
  refused: Map<string, number>;
}

/** What Redis must hold once every record was handled: the effect of each unique event, once. */
export interface Model {
  /**
   * The guard's model of the shard (core/guard/model.ts), fed each record in its partition's
   * order: the state (leaderboard, balances), each scope's cursor, the totals.
   */
  shard: ShardModel;
  /** The mutations the sink registers, which the model's guard runs. */
  mutations: MutationRegistry;
  unique: number;
  records: number;
  resends: number;
  late: number;
  malformed: number;
  /** op -> what the guard made of its unique events: applied, refused by reason. */
  byOp: Map<string, OpCounts>;
}

export function emptyModel(mutations: MutationRegistry = defaultMutations): Model {
  return {
    shard: emptyShardModel(),
    mutations,
    unique: 0,
    records: 0,
    resends: 0,
    late: 0,
    malformed: 0,
    byOp: new Map(),
  };
}

/** An event as the guard of its scope takes it. */
export interface ModelEvent {
  scope: string;
  seq: bigint;
  mutation: Mutation;
}

/** The counts of `op` in the model (zero when it has none). */
export function opCounts(model: Model, op: string): OpCounts {
  return model.byOp.get(op) ?? { applied: 0, refused: new Map() };
}

/** Events refused in all, or of one op, or of one op for one reason. */
export function refusedCount(model: Model, op?: string, reason?: string): number {
  let count = 0;
  for (const [name, counts] of model.byOp) {
    if (op !== undefined && name !== op) continue;
    for (const [why, n] of counts.refused) if (reason === undefined || why === reason) count += n;
  }
  return count;
}

/**
 * One record of an event through the model's guard, in the order the guard of its scope sees it.
 * A resend or a redelivery of an event it already took is a duplicate and counts for nothing;
 * the first time, the event counts as unique, and as applied or refused for its op. The traffic
 * makes no event the guard rejects (that would be dead-lettered): one is a mistake of the traffic.
 */
export function addEvent(model: Model, event: ModelEvent): GuardOutcome {
  const outcome = guard(
    model.shard,
    {
      field: cursorField({ scope: event.scope }, { topic: '', partition: 0 }),
      seq: event.seq,
      byOffset: false,
      mutation: event.mutation,
    },
    defaultFirstSeq,
    model.mutations,
  );
  if (outcome.kind === 'duplicate') return outcome;
  if (outcome.kind === 'rejected') {
    throw new TrafficModelError(
      `the traffic made an event the guard rejects (${outcome.message}): ${event.mutation.op} in scope ${event.scope}, seq ${event.seq}`,
    );
  }
  model.unique += 1;
  const { op } = event.mutation;
  const counts = model.byOp.get(op) ?? { applied: 0, refused: new Map<string, number>() };
  model.byOp.set(op, counts);
  if (outcome.kind === 'refused')
    counts.refused.set(outcome.reason, (counts.refused.get(outcome.reason) ?? 0) + 1);
  else counts.applied += 1;
  return outcome;
}

/** The leaderboard event of the seed format `{sequence_id: seq, player_id, delta}`. */
export function seedEvent(player: string, seq: bigint, delta: number): ModelEvent {
  return {
    scope: player,
    seq,
    mutation: defaultMutations.mutation('zincrby', {
      key: demoStateName,
      member: player,
      delta: String(delta),
    }),
  };
}

/** Adds one unique event of the seed format, `{sequence_id: seq, player_id, delta}`, to the model. */
export function addUniqueEvent(model: Model, player: string, seq: bigint, delta: number): void {
  addEvent(model, seedEvent(player, seq, delta));
}

/** The record of a malformed event: JSON of no known shape, so the sink dead-letters it. */
export const malformedValue = 'not an event';

/** A wallet event before its seq: an envelope's type and data. */
export interface WalletDraft {
  type: 'hincrby' | 'debit' | 'transfer';
  data: Record<string, string | number>;
}

/**
 * A wallet event of one of the first `walletPlayers` players: coins won (hincrby), spent
 * (debit, refused "insufficient" beyond the balance) or given to another player (transfer,
 * refused "insufficient" too). More is spent than won, so balances run out.
 */
export function walletDraft(random: () => number, players: number): WalletDraft {
  const wallets = Math.min(players, walletPlayers);
  const player = (i: number) => `player-${i}`;
  const who = Math.floor(random() * wallets);
  const roll = random();
  if (roll < 0.4) {
    const delta = 1 + Math.floor(random() * 20);
    return { type: 'hincrby', data: { key: walletStateName, field: player(who), delta } };
  }
  if (roll < 0.75 || wallets < 2) {
    const amount = 1 + Math.floor(random() * 25);
    return { type: 'debit', data: { key: walletStateName, field: player(who), amount } };
  }
  const other = (who + 1 + Math.floor(random() * (wallets - 1))) % wallets;
  const amount = 1 + Math.floor(random() * 15);
  return {
    type: 'transfer',
    data: { key: walletStateName, from: player(who), to: player(other), amount },
  };
}

/** One burst's records, by the topic they go to. */
export interface Burst {
  /** The seed format's records (the leaderboard), and the malformed ones. */
  leaderboard: OutgoingEvent[];
  /** The wallet events, in the envelope format. */
  wallet: OutgoingEvent[];
}

/** A record of a burst, with the event the model takes (none for a malformed record). */
interface Planned {
  wallet: boolean;
  outgoing: OutgoingEvent;
  event?: ModelEvent;
}

/**
 * The bursts to publish, in order, each with the records of both topics; with `model`, the model
 * takes each burst's records in the order they are published. Each call starts again from the
 * same seed.
 */
export async function* trafficBursts(
  settings: TrafficSettings,
  model?: Model,
): AsyncGenerator<Burst> {
  const sequences = inMemorySequenceSource();
  const random = seededRandom(42);
  const walletRate = settings.walletRate ?? 0;
  const size = Math.max(1, Math.round(settings.rate / 10));
  let current: Planned[] = [];
  let heldBack: Planned[] = [];
  const flush = (): Burst => {
    const ordered = [...current, ...heldBack];
    current = [];
    heldBack = [];
    if (model) {
      model.records += ordered.length;
      for (const { event } of ordered) if (event) addEvent(model, event);
    }
    const of = (wallet: boolean) =>
      ordered.flatMap((p) => (p.wallet === wallet ? [p.outgoing] : []));
    return { leaderboard: of(false), wallet: of(true) };
  };
  for (let i = 0; i < settings.events; i++) {
    let planned: Planned;
    // Drawn only when asked for, so that traffic without wallet events is the same as before.
    if (walletRate > 0 && random() < walletRate) {
      const { type, data } = walletDraft(random, settings.players);
      const stamped = await stampEnvelope(sequences, { scope: ledgerScope, type, data });
      planned = {
        wallet: true,
        outgoing: { scope: stamped.scope, value: stamped.value },
        event: {
          scope: ledgerScope,
          seq: stamped.seq,
          mutation: (model?.mutations ?? defaultMutations).mutation(type, data),
        },
      };
    } else {
      const player = `player-${Math.floor(random() * settings.players)}`;
      const delta = 1 + Math.floor(random() * 10);
      const stamped = await stampSeedEvent(sequences, { player_id: player, delta });
      planned = {
        wallet: false,
        outgoing: { scope: stamped.scope, value: stamped.value },
        event: seedEvent(player, stamped.seq, delta),
      };
    }
    if (random() < settings.gapRate) {
      // Held back to the end of the burst: the guard opens a gap, then fills it.
      heldBack.push(planned);
      if (model) model.late += 1;
    } else {
      current.push(planned);
    }
    if (random() < settings.duplicateRate) {
      current.push(planned); // a producer resend of the same event
      if (model) model.resends += 1;
    }
    if (random() < settings.malformedRate) {
      const scope = planned.outgoing.scope;
      current.push({ wallet: false, outgoing: { scope, value: malformedValue } });
      if (model) model.malformed += 1;
    }
    if (current.length >= size) yield flush();
  }
  if (current.length + heldBack.length > 0) yield flush();
}

/**
 * The leaderboard's bursts alone, for traffic without wallet events (`walletRate` 0 or absent),
 * as the latency benchmark sends it.
 */
export async function* bursts(
  settings: TrafficSettings,
  model?: Model,
): AsyncGenerator<OutgoingEvent[]> {
  if ((settings.walletRate ?? 0) > 0) {
    throw new TypeError(
      'bursts() sends the leaderboard only: use trafficBursts() with wallet events',
    );
  }
  for await (const burst of trafficBursts(settings, model)) yield burst.leaderboard;
}

/** The model of the traffic, from one pass over the bursts without publishing them. */
export async function modelOf(settings: TrafficSettings): Promise<Model> {
  const model = emptyModel();
  for await (const _ of trafficBursts(settings, model)) {
    // Only the model is wanted here.
  }
  return model;
}
