/**
 * The soak's faults as the traffic reaches their points: each fault of the schedule fires once
 * its number of events is published (serial kinds one after another, the rest at once), the
 * snapshots for the rollbacks are taken at theirs, and every fault is marked for the report.
 */
import { SoakError } from '../scenario/errors.ts';
import { n } from './context.ts';
import { type FaultContext, runFault, takeSnapshot } from './faults.ts';
import type { FaultMark } from './report.ts';
import {
  type FaultKind,
  faultKinds,
  redisFaults,
  type ScheduledFault,
  serialKinds,
} from './schedule.ts';

export class FaultRunner {
  /** Every fault and snapshot, when it came and what it did. */
  readonly marks: FaultMark[] = [];
  /** Faults done, by kind (sink kills count when they hit: SoakSink's killsHit). */
  readonly done: Record<string, number> = { sinkKill: 0 };
  /** Faults after which Redis no longer held acknowledged writes, and the effects lost. */
  lostWritesFaults = 0;
  lostApplied = 0;
  /** The first fault that could not be made: the run stops on it. */
  error: Error | undefined;
  readonly #ctx: FaultContext;
  readonly #log: { elapsed(): number; say(line: string): void };
  /** The serial faults (and snapshots), one after another. */
  #serial: Promise<void> = Promise.resolve();
  #fired = 0;
  readonly #pending: ScheduledFault[];
  readonly #snapshots: number[];

  constructor(
    schedule: readonly ScheduledFault[],
    ctx: FaultContext,
    log: { elapsed(): number; say(line: string): void },
  ) {
    this.#ctx = ctx;
    this.#log = log;
    this.#pending = [...schedule];
    this.#snapshots = schedule
      .filter((f) => f.kind === 'redisRollback')
      .map((f) => f.snapshotAt as number);
  }

  /** Fires every snapshot and fault whose point `published` (unique events) has reached. */
  fireDue(published: number): void {
    while (this.#snapshots.length > 0 && (this.#snapshots[0] as number) <= published) {
      this.#snapshots.shift();
      this.#serial = this.#serial.then(() => this.#snapshot());
    }
    while (this.#pending.length > 0 && (this.#pending[0] as ScheduledFault).at <= published)
      this.#fire(this.#pending.shift() as ScheduledFault);
  }

  /** Resolves once the serial faults fired so far have ended. */
  settled(): Promise<void> {
    return this.#serial;
  }

  /** Redis faults done so far, of every kind. */
  redisFaultCount(): number {
    return Object.entries(this.done).reduce(
      (sum, [k, c]) => sum + (redisFaults.has(k as FaultKind) ? c : 0),
      0,
    );
  }

  async #snapshot(): Promise<void> {
    const detail = await takeSnapshot(this.#ctx).catch((e: Error) => `failed: ${e.message}`);
    this.marks.push({
      at: this.#log.elapsed(),
      kind: 'snapshot',
      label: 'snapshot taken (for a rollback)',
      detail,
    });
  }

  #fire(fault: ScheduledFault): void {
    const i = this.#fired++;
    const work = () => this.#run(fault, i);
    if (serialKinds.has(fault.kind)) this.#serial = this.#serial.then(work);
    else void work();
  }

  async #run(fault: ScheduledFault, i: number): Promise<void> {
    const mark: FaultMark = {
      at: this.#log.elapsed(),
      kind: fault.kind,
      label: faultKinds[fault.kind],
      detail: '',
    };
    this.marks.push(mark);
    try {
      const outcome = await runFault(fault, this.#ctx, i);
      mark.detail = outcome.detail;
      if (outcome.lasting) mark.endAt = this.#log.elapsed();
      if (outcome.lostApplied > 0) {
        this.lostWritesFaults += 1;
        this.lostApplied += outcome.lostApplied;
        mark.detail += `; Redis lost ${n(outcome.lostApplied)} acknowledged events' effects`;
      }
      this.done[fault.kind] = (this.done[fault.kind] ?? 0) + (fault.kind === 'sinkKill' ? 0 : 1);
      if (fault.kind !== 'sinkKill')
        this.#log.say(`fault   ${faultKinds[fault.kind]}: ${mark.detail}`);
    } catch (error) {
      mark.detail = `failed: ${(error as Error).message}`;
      this.error = new SoakError(
        `the fault "${faultKinds[fault.kind]}" failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
