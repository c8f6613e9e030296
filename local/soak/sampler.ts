/**
 * What the soak watches while it runs, a point a second for the report (throughput, consumer
 * lag, produce-to-visible latency, alarms firing), and every five seconds a sample of players
 * checked against the model (no score and no cursor in Redis is ever above it) and a line of
 * progress.
 */
import type { Admin } from '@platformatic/kafka';
import {
  cursorField,
  partitionRanges,
  type RedisClient,
  shardKeys,
  stateKey,
  topicPartition,
} from '../../core/index.ts';
import type { DriftMonitor } from '../../tools/drift-monitor.ts';
import type { Pipeline } from '../emulators/pipeline.ts';
import { seededRandom } from '../scenario/seeded-random.ts';
import { entryLatencies, histogramPercentile } from '../scenario/stream-latency.ts';
import { BOARD, SHARD, type SoakRun } from './context.ts';
import type { SoakModel } from './model.ts';
import type { SoakReads } from './reads.ts';
import type { SeriesPoint } from './report.ts';

/** The end offset of each partition of `topic`. */
export async function logEnds(admin: Admin, topic: string): Promise<Map<string, bigint>> {
  const ranges = await partitionRanges(admin, [topic]);
  return new Map(ranges.map((r) => [topicPartition(r), r.end]));
}

export interface SamplerSources {
  admin: Admin;
  redis: RedisClient;
  pipeline: Pipeline;
  /** The function's count of applied events. */
  applied(): number;
  model: SoakModel;
  monitor: DriftMonitor;
  /** The read side: produce-to-readable latency, reads at a position, the view. */
  reads: SoakReads;
  /** A line of progress, every five samples. */
  progress(): void;
}

export class Sampler {
  readonly series: SeriesPoint[] = [];
  /** Records the consumer group is behind; null while the broker is away. */
  consumerLag: number | null = null;
  maxLag = 0;
  /** The samples of players checked against the model, and how many were above it. */
  readonly invariant = { samples: 0, checked: 0, aboveModel: 0 };
  readonly #run: SoakRun;
  readonly #sources: SamplerSources;
  readonly #stream: string;
  readonly #random: () => number;
  #lastEntry = '-';
  #lastSample = { t: 0, applied: 0, published: 0 };
  #timer: NodeJS.Timeout | undefined;

  constructor(run: SoakRun, sources: SamplerSources) {
    this.#run = run;
    this.#sources = sources;
    this.#stream = shardKeys(SHARD, run.prefix).stream;
    this.#random = seededRandom(run.settings.seed ^ 0x1234);
  }

  /** Samples every second until stop(), and puts the timer on `resources`. */
  start(resources: AsyncDisposableStack): void {
    let ticks = 0;
    let sampling = false;
    this.#timer = setInterval(() => {
      if (sampling) return;
      sampling = true;
      void (async () => {
        await this.sample();
        if (++ticks % 5 === 0) {
          await this.#checkInvariants();
          this.#sources.progress();
        }
      })().finally(() => {
        sampling = false;
      });
    }, 1_000);
    resources.defer(() => this.stop());
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** A point of the series: what happened since the last one. */
  async sample(): Promise<void> {
    const t = this.#run.elapsed();
    await this.#sampleLag();
    const { histogram, entries } = await this.#newLatencies();
    const readable = this.#sources.reads.takeLatencies();
    const seconds = Math.max(0.001, (t - this.#lastSample.t) / 1000);
    const applied = this.#sources.applied();
    const published = this.#sources.model.model.unique;
    this.series.push({
      t,
      appliedPerSecond: Math.round((applied - this.#lastSample.applied) / seconds),
      publishedPerSecond: Math.round((published - this.#lastSample.published) / seconds),
      consumerLag: this.consumerLag,
      p50Ms: entries ? histogramPercentile(histogram, entries, 50) : null,
      p99Ms: entries ? histogramPercentile(histogram, entries, 99) : null,
      readableP50Ms: readable.p50,
      readableP99Ms: readable.p99,
      alarmsFiring: Object.values(this.#sources.monitor.states).filter((s) => s === 'ALARM').length,
    });
    this.#lastSample = { t, applied, published };
  }

  async #sampleLag(): Promise<void> {
    try {
      let lag = 0n;
      for (const [id, end] of await logEnds(this.#sources.admin, this.#run.topic))
        lag += end - (this.#sources.pipeline.mapping.committed.get(id) ?? 0n);
      this.consumerLag = Number(lag);
      this.maxLag = Math.max(this.maxLag, this.consumerLag);
    } catch {
      this.consumerLag = null; // the broker is away
    }
  }

  /** The latencies of the stream entries added since the last sample. */
  async #newLatencies(): Promise<{ histogram: Map<number, number>; entries: number }> {
    const histogram = new Map<number, number>();
    let entries = 0;
    try {
      const page = await this.#sources.redis.xrange(
        this.#stream,
        this.#lastEntry === '-' ? '-' : `(${this.#lastEntry}`,
        '+',
        'COUNT',
        20_000,
      );
      for (const latency of entryLatencies(page)) {
        histogram.set(latency, (histogram.get(latency) ?? 0) + 1);
        entries += 1;
      }
      if (page.length > 0) this.#lastEntry = (page.at(-1) as [string, string[]])[0];
    } catch {
      // Redis is away: no latency this second.
    }
    return { histogram, entries };
  }

  /** No score and no cursor in Redis is ever above the model's (read Redis first: the model only grows). */
  async #checkInvariants(): Promise<void> {
    const { model, redis } = this.#sources;
    const players = model.players();
    if (players.length === 0) return;
    const picked = Array.from(
      { length: 50 },
      () => players[Math.floor(this.#random() * players.length)] as string,
    );
    try {
      const scores = (await redis.call(
        'ZMSCORE',
        stateKey(SHARD, BOARD, this.#run.prefix),
        ...picked,
      )) as (string | null)[];
      const cursors = await redis.hmget(
        shardKeys(SHARD, this.#run.prefix).cursors,
        ...picked.map((p) => cursorField({ scope: p }, { topic: '', partition: 0 })),
      );
      this.invariant.samples += 1;
      picked.forEach((player, i) => {
        this.invariant.checked += 1;
        const score = Number(scores[i] ?? 0);
        const cursor = BigInt(cursors[i] ?? 0);
        if (score > model.scoreOf(player) || cursor > model.cursorOf(player))
          this.invariant.aboveModel += 1;
      });
    } catch {
      // Redis is away: sampled again later.
    }
    await this.#sources.reads.check(model);
  }
}
