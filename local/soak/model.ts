/**
 * The model of the soak's unique events, built from the stamps its producer reports, once per
 * burst: the guard's model of the shard with the sink's mutations (`scenarioMutations`), fed in
 * the order the producer sends the burst (the demo's Model, checked by the demo's verdict), the
 * malformed records by kind, and the seqs a killed producer drew and never sent. One entry per
 * player, team and state, and per such range: bounded whatever the number of events.
 */
import { cursorField } from '../../core/index.ts';
import { scenarioMutations } from '../scenario/capped-counter.ts';
import { addEvent, demoStateName, emptyModel, type Model } from '../scenario/traffic-model.ts';
import type { Stamps } from './producer.ts';
import type { Draft, EventDraft, MalformedKind } from './traffic.ts';

export class SoakModel {
  readonly model: Model = emptyModel(scenarioMutations);
  readonly malformedByKind = new Map<MalformedKind, number>();
  /** Per scope, seqs drawn and never sent, adjacent ranges merged. */
  readonly expectedGaps = new Map<string, [bigint, bigint][]>();
  skippedSeqs = 0n;

  /**
   * A burst's drafts with the seqs its producer stamped. The model takes its records in the
   * order the producer sends them (producer-child.ts, `publish`): each event with its resend
   * right after it, the late ones last; each partition keeps that order, and so does each scope.
   */
  add(drafts: readonly Draft[], stamps: Stamps): void {
    for (const [scope, first, last] of stamps.skipped) {
      const ranges = this.expectedGaps.get(scope) ?? [];
      const previous = ranges.at(-1);
      if (previous && previous[1] + 1n === first) previous[1] = last;
      else ranges.push([first, last]);
      this.expectedGaps.set(scope, ranges);
      this.skippedSeqs += last - first + 1n;
    }
    let next = 0;
    const m = this.model;
    const sent: { draft: EventDraft; seq: bigint }[] = [];
    for (const draft of drafts) {
      if (draft.kind === 'malformed') {
        m.malformed += 1;
        m.records += 1;
        this.malformedByKind.set(
          draft.malformed,
          (this.malformedByKind.get(draft.malformed) ?? 0) + 1,
        );
        continue;
      }
      const record = { draft, seq: stamps.seqs[next++] as bigint };
      sent.push(...(draft.resend ? [record, record] : [record]));
      m.records += draft.resend ? 2 : 1;
      if (draft.resend) m.resends += 1;
      if (draft.late) m.late += 1;
    }
    // Stable, as the producer's: the late ones last, in their order.
    sent.sort((a, b) => Number(a.draft.late) - Number(b.draft.late));
    for (const { draft, seq } of sent) {
      addEvent(m, {
        scope: draft.scope,
        seq,
        mutation: m.mutations.mutation(draft.type, draft.data),
      });
    }
  }

  /** The players the model has seen on the leaderboard. */
  players(): string[] {
    const board = this.model.shard.state.get(demoStateName);
    return board?.type === 'zset' ? [...board.members.keys()] : [];
  }

  /** A player's score in the model (0 if none). */
  scoreOf(player: string): number {
    const board = this.model.shard.state.get(demoStateName);
    return board?.type === 'zset' ? (board.members.get(player)?.score ?? 0) : 0;
  }

  /** A player's cursor in the model: the highest seq its events carried (0 if none). */
  cursorOf(player: string): bigint {
    const field = cursorField({ scope: player }, { topic: '', partition: 0 });
    return this.model.shard.cursors.get(field)?.value ?? 0n;
  }
}
