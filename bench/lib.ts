/** Measuring helpers shared by the benchmarks: percentiles, Redis CPU, tables. */
import type { RedisClient } from '../core/index.ts';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** CPU seconds the redis-server process has used (user + system), from INFO. */
export async function redisCpuSeconds(redis: RedisClient): Promise<number> {
  const info = await redis.info('cpu');
  const read = (field: string) =>
    Number(new RegExp(`${field}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return read('used_cpu_user') + read('used_cpu_sys');
}

/** Counters of the work clients asked of Redis, from INFO: what ElastiCache Serverless bills. */
export interface RedisWork {
  /** Script executions (EVAL, EVALSHA) and the engine time they took, in µs. */
  scriptCalls: number;
  scriptMicros: number;
  /** Bytes clients sent and received (replication traffic not included). */
  clientBytes: number;
}

export async function redisWork(redis: RedisClient): Promise<RedisWork> {
  const info = `${await redis.info('commandstats')}\n${await redis.info('stats')}`;
  const field = (pattern: RegExp) => Number(pattern.exec(info)?.[1] ?? 0);
  const script = (name: string, what: 'calls' | 'usec') =>
    field(new RegExp(`^cmdstat_${name}:.*\\b${what}=(\\d+)`, 'm'));
  return {
    scriptCalls: script('eval', 'calls') + script('evalsha', 'calls'),
    scriptMicros: script('eval', 'usec') + script('evalsha', 'usec'),
    // Since Redis 7.0 these two leave out replication (total_net_repl_*_bytes).
    clientBytes: field(/^total_net_input_bytes:(\d+)/m) + field(/^total_net_output_bytes:(\d+)/m),
  };
}

export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [
    line(header),
    line(header.map((_, i) => (i === 0 ? '---' : '---:'))),
    ...rows.map(line),
  ].join('\n');
}

export const fixed = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';

/**
 * A full garbage collection, when node runs with --expose-gc (npm run bench does): called
 * before a measurement, so that no design pays for the garbage of the one before it.
 */
export const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();
