/**
 * The model of the soak's unique events, built from the stamps its producer reports, once per
 * burst: each player's expected score and last seq (the demo's Model, checked by the demo's
 * verdict), the malformed records by kind, and the seqs a killed producer drew and never sent.
 * One entry per player and per such range: bounded whatever the number of events.
 */
import type { Model } from '../demo/plan.ts';
import type { Stamps } from './producer.ts';
import type { Draft, MalformedKind } from './traffic.ts';

export class SoakModel {
  readonly model: Model = {
    scores: new Map(),
    lastSeq: new Map(),
    unique: 0,
    records: 0,
    resends: 0,
    late: 0,
    malformed: 0,
  };
  readonly malformedByKind = new Map<MalformedKind, number>();
  /** Per scope, seqs drawn and never sent, adjacent ranges merged. */
  readonly expectedGaps = new Map<string, [bigint, bigint][]>();
  skippedSeqs = 0n;

  /** A burst's drafts with the seqs its producer stamped. */
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
      const seq = stamps.seqs[next++] as bigint;
      m.scores.set(draft.player, (m.scores.get(draft.player) ?? 0) + draft.delta);
      const last = m.lastSeq.get(draft.player);
      if (last === undefined || seq > last) m.lastSeq.set(draft.player, seq);
      m.unique += 1;
      m.records += draft.resend ? 2 : 1;
      if (draft.resend) m.resends += 1;
      if (draft.late) m.late += 1;
    }
  }
}
