/**
 * `npm run seqguard -- read ...`: position-bound reads from the command line (docs/reading.md).
 * Each prints its answer as JSON and exits 0; a bound Redis has not reached exits 3, naming the
 * partitions behind; a malformed token or command exits 2.
 */
import {
  type Bound,
  createReader,
  type DriftConnections,
  NotUpToBoundError,
  PositionError,
  type RankOrder,
  toPlainJson,
} from '../core/index.ts';
import { UsageError } from './errors.ts';

export const readUsage = `  read score KEY MEMBER --shard S [--at TOKEN]
  read rank KEY MEMBER --shard S [--order desc|asc] [--at TOKEN]
  read top KEY [N] --shard S [--order desc|asc] [--at TOKEN]        (N: 10)
  read around KEY MEMBER [N] --shard S [--order desc|asc] [--at TOKEN]
                                          (N on each side: 5)
  read wait TOKEN [--shard S] [--timeout MS]                        (MS: 10000)
                                          read a state key (a leaderboard) of shard S; with
                                          --at, only once Redis holds every event up to the
                                          position token (exit 3 if it does not yet)`;

export interface ReadFlags {
  shard?: string;
  at?: string;
  order?: string;
  timeout?: string;
}

/** The exit code of a bound Redis has not reached. */
export const notUpToBoundExit = 3;

function count(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${what} must be an integer >= 0`);
  return n;
}

function argument(args: readonly string[], index: number, what: string): string {
  const value = args[index];
  if (value === undefined || value === '')
    throw new UsageError(`read ${args[0]}: ${what} is required`);
  return value;
}

export async function readCommand(
  { config, redis }: DriftConnections,
  args: readonly string[],
  flags: ReadFlags,
): Promise<number> {
  const reader = createReader(redis, {
    keyPrefix: config.sink.guard.keyPrefix,
    topics: config.topics,
  });
  const order = (flags.order ?? 'desc') as RankOrder;
  if (order !== 'desc' && order !== 'asc') throw new UsageError('--order is desc or asc');
  const at: Bound | undefined = flags.at;
  const shard = () => {
    if (!flags.shard) throw new UsageError(`read ${args[0]}: --shard is required`);
    return flags.shard;
  };
  const key = () => argument(args, 1, 'KEY');
  const member = () => argument(args, 2, 'MEMBER');
  try {
    const answer = await (async () => {
      switch (args[0]) {
        case 'score':
          return { score: (await reader.score(shard(), key(), member(), { at })) ?? null };
        case 'rank':
          return (await reader.rank(shard(), key(), member(), { at, order })) ?? null;
        case 'top':
          return reader.top(shard(), key(), count(args[2], 10, 'N'), { at, order });
        case 'around':
          return reader.around(shard(), key(), member(), count(args[3], 5, 'N'), { at, order });
        case 'wait': {
          const token = argument(args, 1, 'TOKEN');
          const timeoutMs = count(flags.timeout, 10_000, '--timeout');
          const started = Date.now();
          await reader.waitFor(token, {
            timeoutMs,
            ...(flags.shard ? { shard: flags.shard } : {}),
          });
          return { reached: true, waitedMs: Date.now() - started };
        }
        default:
          throw new UsageError(`read: unknown read "${args[0] ?? ''}"`);
      }
    })();
    console.log(JSON.stringify(toPlainJson(answer), null, 2));
    return 0;
  } catch (error) {
    if (error instanceof PositionError) throw new UsageError(error.message, { cause: error });
    if (!(error instanceof NotUpToBoundError)) throw error;
    console.error(`seqguard: ${error.message}`);
    console.log(JSON.stringify(toPlainJson({ behind: error.behind }), null, 2));
    return notUpToBoundExit;
  } finally {
    reader.close();
  }
}
