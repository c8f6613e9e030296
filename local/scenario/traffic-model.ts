/**
 * The demo's traffic and its model. Events in the seed article's format
 * `{sequence_id, player_id, delta}` come in bursts of a tenth of a second at the requested rate,
 * with producer resends, late events (held back to the end of their burst) and malformed records
 * mixed in, all drawn from a fixed seed so every run publishes the same records.
 *
 * Nothing here grows with the number of events: the bursts are generated as they are published,
 * and the model keeps one entry per player (its score and cursor in the guard's model).
 */
import {
  cursorField,
  defaultMutations,
  emptyShardModel,
  guard,
  type ShardModel,
} from '../../core/index.ts';
import {
  defaultFirstSeq,
  inMemorySequenceSource,
  type OutgoingEvent,
  stampSeedEvent,
} from '../../core/producer/index.ts';

import { seededRandom } from './seeded-random.ts';

export interface TrafficSettings {
  events: number;
  players: number;
  /** Events per second; a burst holds a tenth of a second's worth. */
  rate: number;
  duplicateRate: number;
  gapRate: number;
  malformedRate: number;
}

/** The state name the seed format's events mutate (the default mapping's). */
export const demoStateName = 'leaderboard';

/** What Redis must hold once every record was handled: the effect of each unique event, once. */
export interface Model {
  /**
   * The guard's model of the shard (core/guard/model.ts), fed each unique event once,
   * in order: the leaderboard, each player's cursor (the scope is the player), the totals.
   */
  shard: ShardModel;
  unique: number;
  records: number;
  resends: number;
  late: number;
  malformed: number;
}

export function emptyModel(): Model {
  return { shard: emptyShardModel(), unique: 0, records: 0, resends: 0, late: 0, malformed: 0 };
}

/** Adds one unique event of the seed format, `{sequence_id: seq, player_id, delta}`, to the model. */
export function addUniqueEvent(model: Model, player: string, seq: bigint, delta: number): void {
  guard(
    model.shard,
    {
      field: cursorField({ scope: player }, { topic: '', partition: 0 }),
      seq,
      byOffset: false,
      mutation: defaultMutations.mutation('zincrby', {
        key: demoStateName,
        member: player,
        delta: String(delta),
      }),
    },
    defaultFirstSeq,
  );
  model.unique += 1;
}

/** The record of a malformed event: JSON of no known shape, so the sink dead-letters it. */
export const malformedValue = 'not an event';

/** The bursts to publish, in order. Each call starts again from the same seed. */
export async function* bursts(
  settings: TrafficSettings,
  model?: Model,
): AsyncGenerator<OutgoingEvent[]> {
  const sequences = inMemorySequenceSource();
  const random = seededRandom(42);
  const size = Math.max(1, Math.round(settings.rate / 10));
  let current: OutgoingEvent[] = [];
  let heldBack: OutgoingEvent[] = [];
  for (let i = 0; i < settings.events; i++) {
    const player = `player-${Math.floor(random() * settings.players)}`;
    const delta = 1 + Math.floor(random() * 10);
    const event = await stampSeedEvent(sequences, { player_id: player, delta });
    const outgoing = { scope: event.scope, value: event.value };
    if (model) addUniqueEvent(model, player, event.seq, delta);
    if (random() < settings.gapRate) {
      // Held back to the end of the burst: the guard opens a gap, then fills it.
      heldBack.push(outgoing);
      if (model) model.late += 1;
    } else {
      current.push(outgoing);
    }
    if (random() < settings.duplicateRate) {
      current.push(outgoing); // a producer resend of the same event
      if (model) model.resends += 1;
    }
    if (random() < settings.malformedRate) {
      current.push({ scope: player, value: malformedValue });
      if (model) model.malformed += 1;
    }
    if (current.length >= size) {
      const burst = [...current, ...heldBack];
      if (model) model.records += burst.length;
      yield burst;
      current = [];
      heldBack = [];
    }
  }
  if (current.length + heldBack.length > 0) {
    const burst = [...current, ...heldBack];
    if (model) model.records += burst.length;
    yield burst;
  }
}

/** The model of the traffic, from one pass over the bursts without publishing them. */
export async function modelOf(settings: TrafficSettings): Promise<Model> {
  const model = emptyModel();
  for await (const _ of bursts(settings, model)) {
    // Only the model is wanted here.
  }
  return model;
}
