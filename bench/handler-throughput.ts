/**
 * Handler throughput: decode + validate + apply of one MSK batch through the sink's core, against
 * the bare apply of the same events already decoded.
 *
 * - `rates`: both paths in one process, in turns (the first one switches every round), each round
 *   on a fresh batch and fresh keys, after one batch of each, measured apart, that warms the JIT
 *   (a warm Lambda has run its code before). Taken in pairs, the two rates of a round share the
 *   machine's load of the moment: their ratio moves less than either rate.
 * - `peak`: one path on a batch of the size that Lambda's payload limit allows, in a process of
 *   its own, for its peak RSS. The batch is read from a file and parsed, as Lambda's runtime
 *   parses the payload it receives; a first one of the same size, measured apart, warms it.
 *
 * Each prints one JSON line:
 *
 *   node --expose-gc bench/handler-throughput.ts rates <redis-url> <records> <rounds>
 *   node --expose-gc bench/handler-throughput.ts peak <redis-url> <payload-file> handler|bare
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { MSKEvent } from 'aws-lambda';
import {
  applyChunk,
  applyRecords,
  chunk,
  createRedisClient,
  createSinkPorts,
  decodeRecord,
  type GuardedEvent,
  loadSinkConfig,
  type RedisClient,
  type SinkConfig,
} from '../core/index.ts';

import { collectGarbage } from './lib.ts';

/**
 * Lambda invokes a function with an MSK batch synchronously, and a synchronous invocation's
 * payload is at most 6 MB: "Lambda passes all of the records in the batch to the function in a
 * single call, up to the payload limit for synchronous invocation (6 MB)"
 * (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-msk.html,
 * BatchSize; the limit: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html,
 * "Invocation payload"). Taken as 6 MiB, the larger reading.
 */
export const maxPayloadBytes = 6 * 1024 * 1024;

export type HandlerPath = 'handler' | 'bare';

export interface HandlerRates {
  records: number;
  /** Per round, both paths' events/s. */
  rounds: { bare: number; handler: number }[];
}

export interface PeakMeasurement {
  mode: HandlerPath;
  records: number;
  payloadBytes: number;
  eventsPerSecond: number;
  /** After the payload was read and parsed, before the batch was handled. */
  rssBeforeMiB: number;
  /** The process's peak (ru_maxrss). */
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

/** Writes the largest batch of mskBatch's records whose JSON fits in `bytes`; its record count. */
export async function writeMskPayload(file: string, bytes: number): Promise<number> {
  const sample = 1_000;
  let count = Math.floor((bytes / JSON.stringify(mskBatch(sample)).length) * sample);
  let text = JSON.stringify(mskBatch(count));
  // Records grow a little with their offsets: step down to what fits.
  while (Buffer.byteLength(text) > bytes) {
    count -= Math.max(1, Math.ceil(((Buffer.byteLength(text) - bytes) / text.length) * count));
    text = JSON.stringify(mskBatch(count));
  }
  await writeFile(file, text);
  return count;
}

function sinkConfig(redisUrl: string): SinkConfig {
  return loadSinkConfig({
    REDIS_URL: redisUrl,
    SEQGUARD_FORMAT: 'mapped',
    SEQGUARD_KEY_PREFIX: `h${randomBytes(4).toString('hex')}`,
  });
}

/** Applies one batch by `mode` on fresh keys; its events/s. */
async function handle(
  redis: RedisClient,
  redisUrl: string,
  event: MSKEvent,
  mode: HandlerPath,
): Promise<number> {
  const config = sinkConfig(redisUrl);
  const count = Object.values(event.records).reduce((n, records) => n + records.length, 0);
  if (mode === 'handler') {
    collectGarbage();
    const started = performance.now();
    const { summary } = await applyRecords(event, createSinkPorts(redis, config.guard), {
      decode: config.decode,
      chunkSize: config.chunkSize,
      shardConcurrency: config.shardConcurrency,
    });
    const seconds = (performance.now() - started) / 1000;
    if (summary.applied !== count) throw new Error(`applied ${summary.applied} of ${count}`);
    return count / seconds;
  }
  const events: GuardedEvent[] = [];
  for (const records of Object.values(event.records)) {
    for (const record of records) {
      const decoded = decodeRecord(record, config.decode);
      if (decoded.kind === 'event') events.push(decoded.event);
    }
  }
  collectGarbage();
  const started = performance.now();
  for (const part of chunk(events, config.chunkSize))
    await applyChunk(redis, 'default', part, config.guard);
  return count / ((performance.now() - started) / 1000);
}

function client(redisUrl: string): RedisClient {
  return createRedisClient({ ...sinkConfig(redisUrl).redis, commandTimeoutMs: 60_000 });
}

export async function measureRates(
  redisUrl: string,
  records: number,
  rounds: number,
): Promise<HandlerRates> {
  const redis = client(redisUrl);
  try {
    for (const mode of ['bare', 'handler'] as const)
      await handle(redis, redisUrl, mskBatch(records), mode);
    const result: HandlerRates = { records, rounds: [] };
    for (let round = 0; round < rounds; round++) {
      const order: HandlerPath[] = round % 2 === 0 ? ['bare', 'handler'] : ['handler', 'bare'];
      const rates = { bare: 0, handler: 0 };
      for (const mode of order)
        rates[mode] = await handle(redis, redisUrl, mskBatch(records), mode);
      result.rounds.push(rates);
    }
    return result;
  } finally {
    redis.disconnect();
  }
}

export async function measurePeak(
  redisUrl: string,
  payloadFile: string,
  mode: HandlerPath,
): Promise<PeakMeasurement> {
  const redis = client(redisUrl);
  try {
    const text = await readFile(payloadFile, 'utf8');
    // A warm Lambda has handled batches of this size before: one first, measured apart.
    await handle(redis, redisUrl, JSON.parse(text) as MSKEvent, mode);
    const event = JSON.parse(text) as MSKEvent;
    collectGarbage();
    const rssBeforeMiB = process.memoryUsage().rss / 2 ** 20;
    const eventsPerSecond = await handle(redis, redisUrl, event, mode);
    return {
      mode,
      records: Object.values(event.records).reduce((n, records) => n + records.length, 0),
      payloadBytes: Buffer.byteLength(text),
      eventsPerSecond,
      rssBeforeMiB,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    redis.disconnect();
  }
}

if (import.meta.filename === process.argv[1]) {
  const [command, redisUrl, arg, modeOrRounds] = process.argv.slice(2) as string[];
  const result =
    command === 'rates'
      ? await measureRates(redisUrl as string, Number(arg), Number(modeOrRounds))
      : await measurePeak(redisUrl as string, arg as string, modeOrRounds as HandlerPath);
  console.log(JSON.stringify(result));
}
