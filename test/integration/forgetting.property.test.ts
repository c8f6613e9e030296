/**
 * The guarantee when Redis forgets, as a property on a real Redis: the real sink core with its
 * partition ledger, fed as the event source mapping feeds it (batches from the committed
 * position, partial failures, crashes mid-batch), while Redis is rolled back to an earlier
 * snapshot or restarted empty (between invocations, or under one between two of its writes), the trigger gives up on ranges and goes on, the drift check
 * repairs what it finds, and an operator replays given-up ranges later. Whatever the history,
 * once the drift check finds nothing behind and every record is committed, the state equals the
 * model of the unique events, and every malformed record is dead-lettered exactly once.
 */
import { randomBytes } from 'node:crypto';
import type { MSKRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { behindRanges, repairRange } from '../../core/drift/lost-writes.ts';
import { deadLetterCounts } from '../../core/redis/dead-letter.ts';
import { inspectDeadLetters, inspectShard } from '../../core/redis/inspect.ts';
import { readLedgers } from '../../core/redis/ledger.ts';
import { applyRecords } from '../../core/sink/apply-records.ts';
import type { SinkPorts } from '../../core/sink/ports.ts';
import { createSinkPorts } from '../../core/sink/redis-ports.ts';
import { scenarioMutations } from '../../local/scenario/capped-counter.ts';
import { compareDeadLetters, verifyState } from '../../tools/verify/compare.ts';
import { expectedState } from '../../tools/verify/expected-state.ts';
import { mskEvent, mskRecord } from '../helpers/events.ts';
import { suiteRedis } from '../helpers/redis.ts';

const runs = Math.max(1, Math.round(Number(process.env.SEQGUARD_PROPERTY_RUNS ?? 1_000) / 2));
// `raw` rolls keys back as a node would (KEYS, DUMP, RESTORE): operators' commands, which the
// app user may not run (-@dangerous), so it is the admin user.
const { redis, admin: raw } = suiteRedis(10_000);
const partitions = [0, 1];
const tp = (p: number) => `events-${p}`;
const shards = ['s1', 's2'];

type Gen = fc.GeneratorValue;

/**
 * The topic, as producers fill it: events whose effect does not depend on the order they are
 * applied in (the sink's order after a rollback or the replay of an abandoned range is not the
 * first pass's): one Redis type per key, integer deltas, a distinct version per hsetIfNewer, best
 * scores, set members each only ever added or only ever removed, and refusals that hold whatever
 * the order (a debit beyond anything ever credited, an increment above a cap no counter can
 * stay under), beside transfers and debits whose floor nothing reaches. Every mutation takes
 * part, the worked example of our own included. A scope keeps to one partition and counts its
 * seqs up, sometimes skipping one; a producer retry resends an event as it was. Some events have
 * no seq; some records are malformed.
 */
function eventData(g: Gen, index: number): { op: string; data: Record<string, unknown> } {
  const op = g(
    fc.constantFrom,
    'zincrby',
    'hincrby',
    'hsetIfNewer',
    'debit',
    'transfer',
    'zmax',
    'zmin',
    'sadd',
    'srem',
    'cappedIncr',
  );
  const target = g(fc.constantFrom, 'm1', 'm2');
  const delta = g(fc.integer, { min: -3, max: 9 });
  const refused = g(fc.boolean);
  switch (op) {
    case 'zincrby':
      return { op, data: { key: 'board', member: target, delta } };
    case 'hincrby':
      return { op, data: { key: 'coins', field: target, delta } };
    case 'hsetIfNewer':
      return { op, data: { key: 'profile', field: target, value: `v${index}`, version: index } };
    case 'debit':
      // Refused: more than all credits ever sum to; else a floor no balance goes below.
      return refused
        ? { op, data: { key: 'coins', field: target, amount: 1_000_000 } }
        : { op, data: { key: 'coins', field: target, amount: 2, floor: -1_000_000 } };
    case 'transfer':
      return {
        op,
        data: g(fc.boolean)
          ? {
              key: 'coins',
              from: 'm1',
              to: 'm2',
              amount: refused ? 1_000_000 : 3,
              floor: refused ? 0 : -1_000_000,
            }
          : {
              key: 'coins',
              from: target,
              to: target,
              toKey: 'vault',
              amount: 1,
              floor: -1_000_000,
            },
      };
    case 'zmax':
    case 'zmin':
      return { op, data: { key: op === 'zmax' ? 'best' : 'lap', member: target, score: delta } };
    case 'sadd':
      return { op, data: { key: 'badges', member: target } };
    case 'srem':
      return { op, data: { key: 'badges', member: 'never-added' } };
    default:
      // Refused: no counter is ever above -1; else a cap nothing reaches.
      return { op, data: { key: 'spins', field: target, delta: 1, cap: refused ? -1 : 1_000_000 } };
  }
}

function buildLog(g: Gen): MSKRecord[][] {
  const values: string[][] = partitions.map(() => []);
  const next = new Map<string, number>();
  const sent: { partition: number; value: string }[] = [];
  const count = g(fc.integer, { min: 1, max: 30 });
  for (let index = 0; index < count; index++) {
    const roll = g(fc.integer, { min: 0, max: 9 });
    if (roll <= 1) {
      values[g(fc.constantFrom, ...partitions)]?.push('{"type":"zincrby"}');
      continue;
    }
    if (roll === 2 && sent.length > 0) {
      const resend = sent[g(fc.nat, sent.length - 1)] as (typeof sent)[0];
      values[resend.partition]?.push(resend.value);
      continue;
    }
    const { op, data } = eventData(g, index);
    const shard = g(fc.constantFrom, ...shards);
    if (g(fc.boolean)) {
      const partition = g(fc.constantFrom, ...partitions);
      values[partition]?.push(JSON.stringify({ shard, type: op, data }));
      continue;
    }
    const scope = g(fc.constantFrom, 'a', 'b');
    const partition = scope === 'a' ? 0 : 1;
    const seq = (next.get(scope) ?? 0) + g(fc.integer, { min: 0, max: 1 });
    next.set(scope, seq + 1);
    const value = JSON.stringify({ seq, scope, shard, type: op, data });
    values[partition]?.push(value);
    sent.push({ partition, value });
  }
  return values.map((list, partition) =>
    list.map((value, offset) => mskRecord({ partition, offset, value })),
  );
}

/** Every key of the prefix, DUMPed: a snapshot to roll back to. */
async function snapshot(prefix: string): Promise<Map<string, Buffer>> {
  const keys = await raw.keys(`{${prefix}*`);
  const dumps = new Map<string, Buffer>();
  for (const key of keys) {
    const dump = await raw.dumpBuffer(key);
    if (dump) dumps.set(key, dump);
  }
  return dumps;
}

/**
 * Rolls the keys of one hash tag (as one cluster node would: a shard, the dead letters, a
 * partition's ledger), or every key, back to a snapshot.
 */
async function restore(prefix: string, dumps: Map<string, Buffer>, tag?: string): Promise<void> {
  const mine = (key: string) => tag === undefined || key.startsWith(tag);
  // In one script execution, as a node's restart is to its clients: a write of the sink running
  // beside it (another shard's chunk) lands before or after the rollback, never inside it.
  const restored = [...dumps].filter(([key]) => mine(key)).flat();
  await raw.eval(
    `for _, key in ipairs(redis.call('KEYS', ARGV[1])) do
       if string.sub(key, 1, #ARGV[2]) == ARGV[2] then redis.call('DEL', key) end
     end
     for i = 3, #ARGV, 2 do redis.call('RESTORE', ARGV[i], 0, ARGV[i + 1], 'REPLACE') end`,
    0,
    `{${prefix}*`,
    tag ?? `{${prefix}`,
    ...restored,
  );
}

/**
 * What happens when `left` more writes have been made: the ports die (as a SIGKILL would), or,
 * with `forget`, Redis forgets (a restart or a rollback under the running invocation, between
 * two of its writes: after the guard, before the ledger's advance, say) and the invocation goes
 * on. undefined: nothing happens.
 */
interface Budget {
  left: number | undefined;
  forget?: () => Promise<void>;
}

/** Ports that spend `budget` on each write. */
function crashable(ports: SinkPorts, budget: Budget): SinkPorts {
  const spend = async () => {
    if (budget.left === undefined) return;
    if (budget.left > 0) {
      budget.left -= 1;
      return;
    }
    const forget = budget.forget;
    if (!forget) throw new Error('crashed');
    budget.left = undefined;
    budget.forget = undefined;
    await forget();
  };
  const ledger = ports.ledger as NonNullable<SinkPorts['ledger']>;
  return {
    applyChunk: async (shard, events, expected) => {
      await spend();
      return ports.applyChunk(shard, events, expected);
    },
    registerShard: async (shard) => ports.registerShard?.(shard),
    appendDeadLetters: async (letters, expected) => {
      await spend();
      return ports.appendDeadLetters(letters, expected);
    },
    ledger: {
      read: (partition) => ledger.read(partition),
      advance: async (partition, advance) => {
        await spend();
        return ledger.advance(partition, advance);
      },
    },
  };
}

/** A sink on a fresh key prefix: chunks of two, seqs from 0, our own mutation registered. */
function freshSink() {
  const prefix = `f${randomBytes(4).toString('hex')}`;
  const config = loadSinkConfig(
    {
      REDIS_URL: 'redis://unused',
      SEQGUARD_KEY_PREFIX: prefix,
      SEQGUARD_CHUNK_SIZE: '2',
      SEQGUARD_FIRST_SEQ: '0',
    },
    { mutations: scenarioMutations },
  );
  return { prefix, config };
}

/** Every key of the prefix, deleted. */
async function wipe(prefix: string): Promise<void> {
  const keys = await raw.keys(`{${prefix}*`);
  if (keys.length > 0) await raw.del(...keys);
}

describe('the sink with its ledger, while Redis forgets', () => {
  it('ends equal to the model of the unique events, dead letters included, whatever the history', async () => {
    await fc.assert(
      fc.asyncProperty(fc.gen(), async (g) => {
        // Prepare: the log, and a sink on a fresh prefix.
        const { prefix, config } = freshSink();
        const log = buildLog(g);
        const budget: Budget = { left: undefined };
        const ports = crashable(createSinkPorts(redis, config.guard), budget);
        const options = {
          decode: config.decode,
          chunkSize: config.chunkSize,
          shardConcurrency: config.shardConcurrency,
        };
        const committed = partitions.map(() => 0);
        const abandoned: { p: number; from: number; to: number }[] = [];
        const snapshots: Map<string, Buffer>[] = [new Map()];

        const slice = (p: number, from: number, to: number): MSKRecord[] =>
          (log[p] ?? []).slice(from, to);
        /** One invocation of the trigger: a batch from the committed positions. */
        const deliver = async (crashAfter: number | undefined, forget?: () => Promise<void>) => {
          const batch = partitions.flatMap((p) =>
            slice(
              p,
              committed[p] as number,
              (committed[p] as number) + g(fc.integer, { min: 1, max: 4 }),
            ),
          );
          if (batch.length === 0) return;
          budget.left = crashAfter;
          budget.forget = forget;
          try {
            const { response } = await applyRecords(mskEvent(batch), ports, options);
            budget.left = undefined;
            for (const p of partitions) {
              const mine = batch.filter((r) => r.partition === p);
              if (mine.length === 0) continue;
              const failed = response.batchItemFailures.find(
                (f) => f.itemIdentifier.partition === tp(p),
              );
              committed[p] = failed
                ? failed.itemIdentifier.offset
                : (mine.at(-1) as MSKRecord).offset + 1;
            }
          } catch {
            // Crashed mid-batch: nothing is committed; the batch comes again.
          } finally {
            budget.left = undefined;
            budget.forget = undefined;
          }
        };
        /** The drift check: what is behind, replayed as a repair. */
        const repair = async () => {
          const ledgers = await readLedgers(redis, partitions.map(tp), prefix);
          const held = await Promise.all(
            shards.map((shard) =>
              inspectShard(
                redis,
                { shard, registered: true },
                { keyPrefix: prefix, maxStateEntries: 0 },
              ),
            ),
          );
          const letters = await inspectDeadLetters(redis, prefix);
          let behind = 0;
          for (const p of partitions) {
            const positions = {
              earliest: 0n,
              end: BigInt(log[p]?.length ?? 0),
              committed: BigInt(committed[p] as number),
            };
            const report = behindRanges(
              positions,
              ledgers.get(tp(p)),
              new Map(
                held.flatMap((s) => {
                  const c = s.checkpoints.get(tp(p));
                  return c === undefined ? [] : [[s.shard, c] as const];
                }),
              ),
              letters.checkpoints.get(tp(p)),
            );
            behind += report.records;
            const range = repairRange(report, positions);
            if (!range) continue;
            const records = slice(p, Number(range.from), Number(range.to));
            await applyRecords(mskEvent(records), ports, {
              ...options,
              repair: new Map([[tp(p), range]]),
            });
            if (records.length === 0)
              await ports.ledger?.advance(tp(p), {
                from: range.from,
                to: range.to - 1n,
                shards: new Map(),
                deadLettered: undefined,
              });
          }
          return behind;
        };

        /** A rollback of every key to a snapshot (the arguments of restore()). */
        const rollbackOfAll = (): [string, Map<string, Buffer>] => [
          prefix,
          // Picked by index: fast-check may replay a picked object of another run when it shrinks.
          snapshots[g(fc.nat, snapshots.length - 1)] as Map<string, Buffer>,
        ];
        /** One node of a cluster rolled back: a shard, the dead letters or a partition's ledger. */
        const rollbackOfOneNode = (): Parameters<typeof restore> => {
          const tags = [
            ...shards.map((shard) => `{${prefix}:${shard}}`),
            `{${prefix}~dlq}`,
            ...partitions.map((p) => `{${prefix}~tp:${tp(p)}}`),
          ];
          return [...rollbackOfAll(), tags[g(fc.nat, tags.length - 1)]];
        };

        // Act: a history of deliveries, crashes, snapshots, rollbacks, give-ups and repairs.
        const steps = g(fc.integer, { min: 3, max: 24 });
        for (let step = 0; step < steps; step++) {
          const kind = g(
            fc.constantFrom,
            'deliver',
            'deliver',
            'crash',
            'snapshot',
            'rollback',
            'rollback one node',
            'forget mid-batch',
            'abandon',
            'repair',
            'replay',
          );
          if (kind === 'deliver') await deliver(undefined);
          else if (kind === 'crash') await deliver(g(fc.integer, { min: 0, max: 3 }));
          else if (kind === 'snapshot') snapshots.push(await snapshot(prefix));
          else if (kind === 'rollback') await restore(...rollbackOfAll());
          else if (kind === 'rollback one node') await restore(...rollbackOfOneNode());
          else if (kind === 'forget mid-batch') {
            // A node rolls back between two writes of one invocation, which then goes on.
            const rollback = g(fc.boolean) ? rollbackOfOneNode() : rollbackOfAll();
            await deliver(g(fc.integer, { min: 0, max: 3 }), () => restore(...rollback));
          } else if (kind === 'abandon') {
            const p = g(fc.constantFrom, ...partitions);
            const from = committed[p] as number;
            const to = Math.min(log[p]?.length ?? 0, from + g(fc.integer, { min: 1, max: 3 }));
            if (to > from) abandoned.push({ p, from, to });
            committed[p] = to;
          } else if (kind === 'repair') await repair();
          else if (abandoned.length > 0) {
            // An operator replays a given-up range, with the sink's checks.
            const { p, from, to } = abandoned[
              g(fc.nat, abandoned.length - 1)
            ] as (typeof abandoned)[0];
            await applyRecords(mskEvent(slice(p, from, to)), ports, options);
          }
        }
        // Then Redis stops forgetting: the drift check and the trigger go on until done.
        for (let round = 0; round < 100; round++) {
          const behind = await repair();
          const done = partitions.every((p) => committed[p] === log[p]?.length);
          if (done && behind === 0) break;
          await deliver(undefined);
        }

        // Assess
        try {
          const all = log.flat();
          const expected = expectedState(all, { decode: config.decode, firstSeq: '0' });
          expect(partitions.map((p) => committed[p])).toEqual(log.map((l) => l.length));
          expect(await verifyState(redis, expected, { keyPrefix: prefix })).toEqual([]);
          expect(
            compareDeadLetters(
              expected.deadLetters,
              await deadLetterCounts(redis, prefix, ['events']),
            ),
          ).toEqual([]);
        } finally {
          await wipe(prefix);
        }
      }),
      { numRuns: runs },
    );
  }, 600_000);

  it('refuses the next chunk of a shard that lost an earlier chunk of the same invocation', async () => {
    // Prepare: a fresh partition, four events without a seq for one shard, chunks of two; the
    // node forgets everything after the first chunk, while the invocation runs.
    const { prefix, config } = freshSink();
    const event = JSON.stringify({
      shard: 's1',
      type: 'zincrby',
      data: { key: 'board', member: 'm1', delta: 1 },
    });
    const records = [0, 1, 2, 3].map((offset) => mskRecord({ partition: 0, offset, value: event }));
    const ports = crashable(createSinkPorts(redis, config.guard), {
      left: 1,
      forget: () => restore(prefix, new Map()),
    });
    try {
      // Act
      const { response } = await applyRecords(mskEvent(records), ports, {
        decode: config.decode,
        chunkSize: config.chunkSize,
        shardConcurrency: config.shardConcurrency,
      });
      // Assess: the second chunk is refused, so no checkpoint above the hole hides it: the drift
      // check sees the shard behind what the ledger says the invocation wrote.
      expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
        { partition: tp(0), offset: 2 },
        { partition: tp(0), offset: 3 },
      ]);
      const shard = await inspectShard(
        redis,
        { shard: 's1', registered: true },
        { keyPrefix: prefix, maxStateEntries: 0 },
      );
      expect(shard.checkpoints.get(tp(0))).toBeUndefined();
      const ledger = (await readLedgers(redis, [tp(0)], prefix)).get(tp(0));
      const report = behindRanges(
        { earliest: 0n, end: 4n, committed: 2n },
        ledger,
        new Map(),
        undefined,
      );
      expect(report.ranges).toContainEqual(
        expect.objectContaining({ from: 0n, to: 2n, why: 'shardBehind', shard: 's1' }),
      );
    } finally {
      await wipe(prefix);
    }
  });
});
