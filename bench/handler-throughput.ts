/**
 * Handler throughput: decode + validate + apply of one MSK batch through the sink's core, against
 * the bare apply of the same events already decoded. Each mode runs in a process of its own
 * (so its peak RSS is its own) and prints one JSON line:
 *
 *   node bench/handler-throughput.ts <redis-url> <records> handler|bare
 */
import { randomBytes } from 'node:crypto';
import type { MSKEvent } from 'aws-lambda';
import { loadSinkConfig } from '../functions/shared/config.ts';
import { decodeRecord } from '../functions/shared/events/decode.ts';
import type { GuardedEvent } from '../functions/shared/events/types.ts';
import { applyChunk, chunk } from '../functions/shared/redis/apply-batch.ts';
import { createRedisClient } from '../functions/shared/redis/client.ts';
import { applyRecords } from '../functions/shared/sink/apply-records.ts';
import { createSinkPorts } from '../functions/shared/sink/redis-ports.ts';

export interface HandlerMeasurement {
  mode: 'handler' | 'bare';
  records: number;
  eventsPerSecond: number;
  peakRssMiB: number;
}

/** One MSK event of `count` seed-format records over 4 partitions, 10,000 players. */
export function mskBatch(count: number): MSKEvent {
  const records: MSKEvent['records'] = {};
  const seqs = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const player = `player-${(i * 7919) % 10_000}`;
    const seq = (seqs.get(player) ?? 0) + 1;
    seqs.set(player, seq);
    const partition = i % 4;
    const id = `bench-${partition}`;
    records[id] ??= [];
    records[id].push({
      topic: 'bench',
      partition,
      offset: records[id].length,
      timestamp: 1_700_000_000_000,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(player).toString('base64'),
      value: Buffer.from(
        JSON.stringify({ sequence_id: seq, player_id: player, delta: (i % 5) + 1 }),
      ).toString('base64'),
      headers: [],
    });
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:local:0:cluster/bench/0',
    bootstrapServers: '',
    records,
  };
}

async function run(
  redisUrl: string,
  count: number,
  mode: 'handler' | 'bare',
): Promise<HandlerMeasurement> {
  // A warm Lambda has run its code before: one small batch first, measured apart, warms the JIT.
  await measureOnce(redisUrl, 1_000, mode);
  return measureOnce(redisUrl, count, mode);
}

async function measureOnce(
  redisUrl: string,
  count: number,
  mode: 'handler' | 'bare',
): Promise<HandlerMeasurement> {
  const config = loadSinkConfig({
    REDIS_URL: redisUrl,
    SEQGUARD_FORMAT: 'mapped',
    SEQGUARD_KEY_PREFIX: `h${randomBytes(4).toString('hex')}`,
  });
  const redis = createRedisClient({ ...config.redis, commandTimeoutMs: 60_000 });
  const event = mskBatch(count);
  try {
    let seconds: number;
    if (mode === 'handler') {
      const started = performance.now();
      const { summary } = await applyRecords(event, createSinkPorts(redis, config.guard), {
        decode: config.decode,
        chunkSize: config.chunkSize,
        shardConcurrency: config.shardConcurrency,
      });
      seconds = (performance.now() - started) / 1000;
      if (summary.applied !== count) throw new Error(`applied ${summary.applied} of ${count}`);
    } else {
      const events = Object.values(event.records)
        .flat()
        .map((r) => decodeRecord(r, config.decode))
        .map((d) => (d.kind === 'event' ? d.event : undefined))
        .filter((e): e is GuardedEvent => e !== undefined);
      const started = performance.now();
      for (const part of chunk(events, config.chunkSize))
        await applyChunk(redis, 'default', part, config.guard);
      seconds = (performance.now() - started) / 1000;
    }
    return {
      mode,
      records: count,
      eventsPerSecond: count / seconds,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    redis.disconnect();
  }
}

if (import.meta.filename === process.argv[1]) {
  const [redisUrl, records, mode] = process.argv.slice(2);
  console.log(
    JSON.stringify(await run(redisUrl as string, Number(records), mode as 'handler' | 'bare')),
  );
}
