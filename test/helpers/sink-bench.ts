/**
 * The sink core and the drift check on the suite's Redis and Kafka, driven by hand: a topic of
 * one partition holding envelope events, batches applied through the real core and its Redis
 * ports when the test says, and drift checks run one at a time. For tests that put something
 * (a batch, a loss) at one exact point between two steps.
 */
import { randomBytes } from 'node:crypto';
import type { MSKRecord } from 'aws-lambda';
import { expect, inject } from 'vitest';
import { loadSinkConfig, type SinkConfig } from '../../core/config/config.ts';
import type { DriftCheckDependencies, DriftCheckOptions } from '../../core/drift/check-drift.ts';
import { keyPatterns } from '../../core/layout/keys.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { applyRecords, type BatchSummary } from '../../core/sink/apply-records.ts';
import type { SinkPorts } from '../../core/sink/ports.ts';
import { createSinkPorts } from '../../core/sink/redis-ports.ts';
import { mskEvent, mskRecord } from './events.ts';
import { createTopic, produce, suiteKafka, uniqueTopic } from './kafka.ts';
import { rawRedis, suiteTarget } from './redis.ts';

/** An envelope event adding 1 to `wallet-<shard>` in `shard`, or a record that is not JSON. */
export function envelopeValue(shard: string | null, seq: number): string {
  return shard === null
    ? '{"truncated'
    : JSON.stringify({
        id: `e${seq}`,
        scope: `wallet-${shard}`,
        seq,
        shard,
        type: 'hincrby',
        data: { key: 'balances', field: `wallet-${shard}`, delta: 1 },
      });
}

/**
 * A topic of one partition holding a record per entry of `shards` (an event of that shard, or
 * a malformed record for null), with seqs 1, 2, … in order; returns the records as the event
 * source mapping would deliver them.
 */
export async function partitionOf(
  label: string,
  shards: (string | null)[],
): Promise<{ topic: string; records: MSKRecord[] }> {
  const topic = uniqueTopic(label);
  await createTopic(topic, 1);
  const values = shards.map((shard, offset) => envelopeValue(shard, offset + 1));
  await produce(
    topic,
    values.map((v) => ({ partition: 0, value: v })),
  );
  const records = values.map((v, offset) =>
    mskRecord({ topic, partition: 0, offset, value: v, timestamp: Date.now() }),
  );
  return { topic, records };
}

export interface SinkBench {
  sink: SinkConfig;
  ports: SinkPorts;
  deps: DriftCheckDependencies;
  options: DriftCheckOptions;
  /** Applies a batch through the core, which must report no error; `ports` replaces the bench's own. */
  apply(batch: MSKRecord[], ports?: SinkPorts): Promise<void>;
  /** Applies a batch through the core; returns what it says. */
  tryApply(batch: MSKRecord[], ports?: SinkPorts): Promise<BatchSummary>;
  /** Deletes every key of the bench's prefix: a Redis that restarted empty. */
  wipe(): Promise<void>;
}

export function sinkBench(
  redis: RedisClient,
  topic: string,
  options: Partial<DriftCheckOptions> = {},
): SinkBench {
  const sink = loadSinkConfig({
    REDIS_URL: inject('redisUrl'),
    SEQGUARD_FORMAT: 'envelope',
    SEQGUARD_KEY_PREFIX: `b${randomBytes(4).toString('hex')}`,
  });
  const ports = createSinkPorts(redis, sink.guard);
  return {
    sink,
    ports,
    deps: {
      kafka: suiteKafka('sink-bench'),
      redis,
      ports,
      sink,
    },
    options: {
      topics: [topic],
      consumerGroup: `never-${topic}`,
      autoReplay: true,
      replayLimit: 1_000,
      maxStateEntries: 1_000,
      ...options,
    },
    async apply(batch, using = ports) {
      expect((await this.tryApply(batch, using)).errors).toEqual([]);
    },
    async tryApply(batch, using = ports) {
      const { summary } = await applyRecords(mskEvent(batch), using, {
        decode: sink.decode,
        chunkSize: sink.chunkSize,
        shardConcurrency: sink.shardConcurrency,
      });
      return summary;
    },
    async wipe() {
      // KEYS is the admin user's: the app user's access string leaves it out, as deployed.
      const admin = rawRedis(suiteTarget(), 'admin');
      try {
        for (const pattern of keyPatterns(sink.guard.keyPrefix)) {
          const keys = await admin.keys(pattern);
          if (keys.length > 0) await admin.del(...keys);
        }
      } finally {
        admin.disconnect();
      }
    },
  };
}
