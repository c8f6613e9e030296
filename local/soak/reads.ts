/**
 * The read side under the soak's faults (docs/reading.md): each burst that landed is waited for
 * at its position (`waitFor`), its produce-to-readable latency taken; every five seconds, sampled
 * players are read at the last position a wait found readable, which must give at least the model's score
 * at that position and never more than the model's score now (or refuse: NotUpToBoundError); a
 * delta-stream view of the leaderboard follows the run, never above the model, and equal to the
 * state at the end.
 */
import {
  createReader,
  createStreamView,
  NotUpToBoundError,
  type Reader,
  type RedisClient,
  type StreamView,
} from '../../core/index.ts';
import { seededRandom } from '../scenario/seeded-random.ts';
import { histogramPercentile } from '../scenario/stream-latency.ts';
import { BOARD, SHARD, type SoakRun } from './context.ts';
import type { SoakModel } from './model.ts';
import type { Landed } from './publisher.ts';

/** Players read at each sample. */
const sampled = 50;
/** A wait for a landed burst gives up after this long (faults may hold Redis back for a while). */
const waitTimeoutMs = 120_000;

export class SoakReads {
  readonly counts = {
    /** Reads at a position: answered, refused (Redis not there yet), wrong. */
    boundAnswered: 0,
    boundRefused: 0,
    boundWrong: 0,
    /** View scores checked against the model, and those above it. */
    viewChecked: 0,
    viewAbove: 0,
    /** Bursts waited for until readable, and waits that gave up. */
    readable: 0,
    readableTimeouts: 0,
  };
  /** The view against the state once the run is over; undefined before. */
  viewEqualsState: boolean | undefined;
  readonly #reader: Reader;
  readonly #view: StreamView;
  readonly #random: () => number;
  /**
   * The latest position a wait found readable, with the model's scores at it for the players to
   * sample: a read at it should answer, unless Redis lost writes since (then it must refuse).
   */
  #bound: { token: string; sentAt: number; atBound: Map<string, number> } | undefined;
  #histogram = new Map<number, number>();
  #entries = 0;
  #allLatencies = new Map<number, number>();

  constructor(run: SoakRun, redis: RedisClient) {
    this.#reader = createReader(redis, { keyPrefix: run.prefix, topics: [run.topic] });
    this.#view = createStreamView(redis, {
      shard: SHARD,
      name: BOARD,
      keyPrefix: run.prefix,
      onError: () => {}, // Redis restarts are among the faults; the view reads again
    });
    this.#random = seededRandom(run.settings.seed ^ 0x5eed);
  }

  /** Warms the view; stopped by `resources`. */
  async start(resources: AsyncDisposableStack): Promise<void> {
    await this.#view.start();
    resources.defer(async () => {
      await this.#view.stop();
      this.#reader.close();
    });
  }

  /** A burst landed: wait for its position, and keep it as the bound of the next sample. */
  landed({ token, sentAt, model }: Landed): void {
    const players = model.players();
    const atBound = new Map<string, number>();
    for (let i = 0; i < sampled && players.length > 0; i++) {
      const player = players[Math.floor(this.#random() * players.length)] as string;
      atBound.set(player, model.scoreOf(player));
    }
    this.#reader.waitFor(token, { timeoutMs: waitTimeoutMs, shard: SHARD }).then(
      () => {
        if (this.#bound === undefined || this.#bound.sentAt < sentAt)
          this.#bound = { token, sentAt, atBound };
        const ms = Math.round(performance.now() - sentAt);
        this.#histogram.set(ms, (this.#histogram.get(ms) ?? 0) + 1);
        this.#allLatencies.set(ms, (this.#allLatencies.get(ms) ?? 0) + 1);
        this.#entries += 1;
        this.counts.readable += 1;
      },
      () => {
        this.counts.readableTimeouts += 1;
      },
    );
  }

  /** Produce-to-readable p50 and p99 of the bursts readable since the last call; null if none. */
  takeLatencies(): { p50: number | null; p99: number | null } {
    const { p50, p99 } = this.#percentiles(this.#histogram, this.#entries);
    this.#histogram = new Map();
    this.#entries = 0;
    return { p50, p99 };
  }

  /** Over the whole run. */
  latencies(): { p50: number | null; p99: number | null } {
    return this.#percentiles(this.#allLatencies, this.counts.readable);
  }

  #percentiles(histogram: Map<number, number>, entries: number) {
    return entries === 0
      ? { p50: null, p99: null }
      : {
          p50: histogramPercentile(histogram, entries, 50),
          p99: histogramPercentile(histogram, entries, 99),
        };
  }

  /** Reads the sampled players at the last readable position; checks the view against the model. */
  async check(model: SoakModel): Promise<void> {
    const bound = this.#bound;
    if (bound !== undefined) {
      for (const [player, atBound] of bound.atBound) {
        try {
          const score = (await this.#reader.score(SHARD, BOARD, player, { at: bound.token })) ?? 0;
          this.counts.boundAnswered += 1;
          if (score < atBound || score > model.scoreOf(player)) this.counts.boundWrong += 1;
        } catch (error) {
          if (error instanceof NotUpToBoundError) this.counts.boundRefused += 1;
          // Redis away: read again at the next sample.
        }
      }
    }
    for (const player of bound?.atBound.keys() ?? []) {
      this.counts.viewChecked += 1;
      if ((this.#view.score(player) ?? 0) > model.scoreOf(player)) this.counts.viewAbove += 1;
    }
  }

  /** Once the run is over: the view, caught up, against the leaderboard Redis holds. */
  async finish(): Promise<void> {
    await this.#view.caughtUp(60_000);
    const all = Number.MAX_SAFE_INTEGER;
    const state = await this.#reader.top(SHARD, BOARD, all);
    const view = this.#view.top(all);
    this.viewEqualsState =
      view.length === state.length &&
      view.every((m, i) => m.member === state[i]?.member && m.score === state[i]?.score);
  }

  /** The view's warm-ups (more than one: it warmed again after a fault). */
  get viewWarmups(): number {
    return this.#view.warmups;
  }
}
