/**
 * How many events per applyBatch execution? Larger chunks mean fewer round trips but a longer
 * script, during which Redis serves nobody else. Applies the same events with each chunk size on
 * a fresh local redis-server and prints events/s (and its ratio to the best size) beside the
 * mean time Redis spent inside one execution.
 *
 *   node bench/chunk-size.ts [--events N]
 */
import { parseArgs } from 'node:util';
import {
  applyChunk,
  chunk,
  createRedisClient,
  defaultMutations,
  type GuardedEvent,
} from '../core/index.ts';

import { startRedisServer } from '../local/emulators/redis/server.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' } } });
const total = Number(values.events);
const sizes = [50, 100, 250, 500, 1000, 2000, 3000];
const scopes = 16;
const players = 10_000;

function events(shard: string): GuardedEvent[] {
  return Array.from({ length: total }, (_, i) => ({
    shard,
    sequence: { scope: `scope-${i % scopes}`, seq: String(Math.floor(i / scopes) + 1) },
    mutation: defaultMutations.mutation('zincrby', {
      key: 'board',
      member: `player-${(i * 7919) % players}`,
      delta: '1',
    }),
    record: {
      topic: 'bench',
      partition: i % scopes,
      offset: String(i),
      timestamp: 1_700_000_000_000,
    },
  }));
}

function usecPerCall(info: string): number {
  const line = info.split('\n').find((l) => l.startsWith('cmdstat_evalsha:'));
  return Number(/usec_per_call=([\d.]+)/.exec(line ?? '')?.[1] ?? Number.NaN);
}

const server = await startRedisServer();
const redis = createRedisClient({ url: server.url, cluster: false, commandTimeoutMs: 60_000 });
const options = { firstSeq: '1', streamMaxLen: 1_000_000, streamMaxAgeMs: 0, keyPrefix: 'bench' };
try {
  const rows: { size: number; rate: number; scriptMs: number }[] = [];
  for (const size of sizes) {
    const shard = `chunk-${size}`;
    const all = events(shard);
    await applyChunk(redis, `warm-${size}`, all.slice(0, 10), options); // loads the script
    await redis.config('RESETSTAT');
    const started = performance.now();
    for (const part of chunk(all, size)) await applyChunk(redis, shard, part, options);
    const seconds = (performance.now() - started) / 1000;
    rows.push({
      size,
      rate: total / seconds,
      scriptMs: usecPerCall(await redis.info('commandstats')) / 1000,
    });
  }
  const best = Math.max(...rows.map((r) => r.rate));
  console.log(`applyBatch chunk size, ${total} events, ${scopes} scopes, one local redis-server\n`);
  console.log('| events per call | events/s | of best | mean script time per call |');
  console.log('|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.size} | ${Math.round(r.rate).toLocaleString('en')} | ${(r.rate / best).toFixed(2)} | ${r.scriptMs.toFixed(2)} ms |`,
    );
  }
} finally {
  redis.disconnect();
  await server.dispose();
}
