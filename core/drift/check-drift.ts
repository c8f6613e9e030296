/**
 * The drift check: Kafka's positions against what Redis holds, per partition and in total.
 *
 * - consumer lag: log end minus the event source mapping group's committed offset;
 * - applied lag: log end minus the applied checkpoint, the highest offset any shard (or the
 *   dead-letter stream) holds for the partition, plus one;
 * - time lag: the age, by record timestamp, of the oldest record not yet applied;
 * - commit ahead of applied: records the group committed that Redis does not hold, so Redis
 *   lost writes (a restart without persistence, a failover that dropped acknowledged writes).
 *   With auto-replay on, those records are read again and applied through the guard;
 * - open sequence gaps, dead-letter depth, state keys that disagree with the guard's running
 *   totals (something wrote around the pipeline), and registered shards whose keys vanished.
 *
 * The applied checkpoint is a maximum over shards: a shard that lost its keys while others
 * still hold later offsets does not show as commit-ahead; it shows as a vanished shard.
 *
 * It runs while the sink writes: Redis is read against the order of the sink's writes (see
 * `readRedis`), so a batch applied during a check never looks like a loss.
 */
import type { Admin } from '@platformatic/kafka';
import type { SinkConfig } from '../config/config.ts';
import type { AlarmName } from '../config/thresholds.ts';
import { maxBigInt } from '../events/int64.ts';
import { topicPartition } from '../events/topic-partition.ts';
import { type KafkaConnection, withAdmin } from '../kafka/connection.ts';
import { triggerGroups } from '../kafka/consumer-groups.ts';
import { committedOffsets, type PartitionRange, partitionRanges } from '../kafka/offsets.ts';
import { type RecordRange, readRecords } from '../kafka/read-records.ts';
import type { RedisClient } from '../redis/client.ts';
import {
  inspectDeadLetters,
  inspectShard,
  listShards,
  type ShardSnapshot,
  type StateCheck,
} from '../redis/inspect.ts';
import { readLedgers } from '../redis/ledger.ts';
import type { HeldCheckpoints } from '../sink/apply-records.ts';
import type { LedgerEntry, SinkPorts } from '../sink/ports.ts';
import { type ReplayResult, replay } from '../sink/replay.ts';
import { type BehindReport, behindRanges, repairRange } from './lost-writes.ts';

export interface DriftCheckDependencies {
  kafka: KafkaConnection;
  redis: RedisClient;
  ports: SinkPorts;
  sink: Pick<SinkConfig, 'decode' | 'chunkSize' | 'shardConcurrency' | 'guard'>;
  /** What the check reads of Redis; `redisDriftReads` of `redis` unless given. */
  reads?: DriftReads;
  now?: () => number;
}

/**
 * What the drift check reads of Redis, as three reads that `checkDrift` makes one after another
 * while the sink goes on writing (see `readRedis` for why their order matters).
 */
export interface DriftReads {
  /** The ledgers of these partitions (`<topic>-<partition>`); partitions never handled are absent. */
  ledgers(partitions: readonly string[]): Promise<Map<string, LedgerEntry>>;
  /** Every shard the sink wrote to: its checkpoints, open gaps and state checks. */
  shards(): Promise<ShardSnapshot[]>;
  /** The dead-letter stream's depth and checkpoints. */
  deadLetters(): Promise<{ depth: number; checkpoints: Map<string, bigint> }>;
}

export function redisDriftReads(
  redis: RedisClient,
  keyPrefix: string,
  maxStateEntries: number,
): DriftReads {
  return {
    ledgers: (partitions) => readLedgers(redis, partitions, keyPrefix),
    async shards() {
      const shards: ShardSnapshot[] = [];
      for (const shard of await listShards(redis, keyPrefix))
        shards.push(await inspectShard(redis, shard, { keyPrefix, maxStateEntries }));
      return shards;
    },
    deadLetters: () => inspectDeadLetters(redis, keyPrefix),
  };
}

export interface DriftCheckOptions {
  topics: string[];
  /** The event source mappings' group id (core/kafka/consumer-groups.ts). */
  consumerGroup: string;
  autoReplay: boolean;
  /** Records one replay pass reads and applies at most (the memory a repair holds). */
  replayLimit: number;
  maxStateEntries: number;
  /**
   * How long a check may go on repairing, in ms from its start: passes of `replayLimit` records
   * follow each other while it lasts. Absent or 0: one pass per check.
   */
  repairBudgetMs?: number;
}

export interface PartitionDrift {
  partition: string;
  topic: string;
  index: number;
  earliest: bigint;
  end: bigint;
  /** The group's next offset; undefined before its first commit. */
  committed: bigint | undefined;
  /** The next offset after the applied checkpoint; undefined when Redis holds none. */
  appliedNext: bigint | undefined;
  consumerLag: number;
  appliedLag: number;
  timeLagSeconds: number;
  commitAhead: number;
  /** Where Redis holds less than was handled (lost writes, ranges given up on). */
  behind: BehindReport;
}

export interface DriftReport {
  checkedAt: string;
  partitions: PartitionDrift[];
  /** The value of each alarm's metric. */
  values: Record<AlarmName, number>;
  shards: { shard: string; present: boolean; registered: boolean; openGaps: number }[];
  stateChecks: (StateCheck & { shard: string })[];
  /** The replay this run started, when Redis was found behind Kafka's commits. */
  replay: ReplayResult | undefined;
}

function appliedCheckpoints(
  shards: ShardSnapshot[],
  deadLetters: Map<string, bigint>,
): Map<string, bigint> {
  const applied = new Map(deadLetters);
  for (const shard of shards) {
    for (const [tp, offset] of shard.checkpoints)
      applied.set(tp, maxBigInt(applied.get(tp) ?? -1n, offset));
  }
  return applied;
}

/** Record timestamps of the first record at or after each position: the oldest not applied. */
async function oldestUnapplied(
  kafka: KafkaConnection,
  lagging: PartitionDrift[],
): Promise<Map<string, number>> {
  if (lagging.length === 0) return new Map();
  const records = await readRecords(
    kafka,
    lagging.map((p) => ({
      topic: p.topic,
      partition: p.index,
      from: maxBigInt(p.appliedNext ?? p.earliest, p.earliest),
      to: p.end,
    })),
    { perRange: 1, timeoutMs: 15_000 },
  );
  return new Map(records.map((r) => [topicPartition(r), Number(r.timestamp)]));
}

/** The commits of every topic's trigger group (one group per event source mapping). */
async function committedByTriggers(
  admin: Admin,
  baseGroupId: string,
  topics: string[],
): Promise<Map<string, bigint>> {
  const perTopic = await Promise.all(
    triggerGroups(baseGroupId, topics).map(({ topic, groupId }) =>
      committedOffsets(admin, groupId, [topic]),
    ),
  );
  return new Map(perTopic.flatMap((committed) => [...committed]));
}

/**
 * Replays `ranges` as a repair, in passes of `replayLimit` records, each going on from where
 * the last one stopped, while the check's repair budget lasts and no record failed. Not only
 * faster: where a pass moves nothing the next check reads (the shard behind had no event in
 * it, so its checkpoint stays), the next check would replay the same records again; passes
 * within one check get past such stretches. What a check cannot finish, the next one goes on
 * with from what Redis then holds (a ledger run, a shard's checkpoint).
 */
async function repair(
  deps: DriftCheckDependencies,
  lost: RecordRange[],
  options: DriftCheckOptions,
  started: number,
  held: ReadonlyMap<string, HeldCheckpoints>,
): Promise<ReplayResult> {
  let ranges = lost;
  let total: ReplayResult | undefined;
  for (;;) {
    // Marks only grow: what the check read, later passes find too, unless a node lost writes.
    const pass = await replay(deps.kafka, deps.ports, deps.sink, ranges, options.replayLimit, {
      repair: true,
      held,
    });
    total = total ? addPass(total, pass) : pass;
    ranges = ranges.flatMap((range) => {
      const next = pass.resumeAt.get(topicPartition(range));
      return next === undefined ? [] : [{ ...range, from: next }];
    });
    const budgetLeft = performance.now() - started < (options.repairBudgetMs ?? 0);
    if (ranges.length === 0 || pass.failed > 0 || pass.errors.length > 0 || !budgetLeft)
      return total;
  }
}

/** Two passes of one repair as one result: the ranges asked for, where the last pass stopped. */
function addPass(total: ReplayResult, pass: ReplayResult): ReplayResult {
  const summary = { ...total.summary };
  for (const key of Object.keys(summary) as (keyof typeof summary)[])
    summary[key] += pass.summary[key];
  return {
    ranges: total.ranges,
    records: total.records + pass.records,
    summary,
    failed: total.failed + pass.failed,
    resumeAt: pass.resumeAt,
    errors: [...total.errors, ...pass.errors],
  };
}

/** Where every partition's log starts and ends, and what the trigger groups committed. */
interface KafkaPositions {
  ranges: PartitionRange[];
  committed: Map<string, bigint>;
}

/** What Redis holds, read in the order `readRedis` gives. */
interface RedisHoldings {
  ledgers: Map<string, LedgerEntry>;
  shards: ShardSnapshot[];
  deadLetters: { depth: number; checkpoints: Map<string, bigint> };
  /** The applied checkpoint of each partition: its highest offset in any shard or dead letter. */
  applied: Map<string, bigint>;
}

/**
 * One check, in phases: Kafka's positions, then what Redis holds (in that order, see
 * `readRedis`), each partition measured against both, the alarms' values, the repair with
 * auto-replay on, and the report.
 */
export async function checkDrift(
  deps: DriftCheckDependencies,
  options: DriftCheckOptions,
): Promise<DriftReport> {
  const now = deps.now ?? Date.now;
  const started = performance.now();
  const kafka = await readKafka(deps.kafka, options);
  const redis = await readRedis(deps, options, kafka.ranges);
  const partitions = kafka.ranges.map((range) => partitionDrift(range, kafka.committed, redis));
  await measureTimeLag(deps.kafka, partitions, now);
  const stateChecks = redis.shards.flatMap((s) =>
    s.states.map((check) => ({ ...check, shard: s.shard })),
  );
  const values = alarmValues(partitions, redis, stateChecks);
  const replayed = await repairLostWrites(deps, partitions, redis, options, started);
  await startFreshRuns(deps, partitions, redis.ledgers, options);
  return {
    checkedAt: new Date(now()).toISOString(),
    partitions,
    values,
    shards: redis.shards.map(({ shard, present, registered, openGaps }) => ({
      shard,
      present,
      registered,
      openGaps,
    })),
    stateChecks,
    replay: replayed,
  };
}

async function readKafka(
  kafka: KafkaConnection,
  options: DriftCheckOptions,
): Promise<KafkaPositions> {
  const [ranges, committed] = await withAdmin(kafka, async (admin) =>
    Promise.all([
      partitionRanges(admin, options.topics),
      committedByTriggers(admin, options.consumerGroup, options.topics),
    ]),
  );
  return { ranges, committed };
}

/**
 * Reads Redis after Kafka's commits, against the order of the sink's writes. The sink writes a
 * batch to the shards (checkpoints raised in the guard's script, the shard registered) and the
 * dead letters first, then advances the partition's ledger, and only then does the trigger
 * commit. So Kafka's commits are read first, then the ledgers, then the shards and the dead
 * letters: whatever a ledger read says was written to a shard was written before that read, and
 * checkpoints only grow, so a later read of the shard holds at least as much. A batch applied
 * between two reads then only makes a later read hold more (more applied, nothing behind).
 * Read the other way round, the ledger would be ahead of a shard read before the batch, a
 * false RedisBehindKafka and a needless repair under live traffic.
 * A node that loses writes between the reads: a shard's node, after the ledger read, shows as
 * behind it in this very check (a real loss); the ledger's node, after its read, shows at the
 * next check, against Kafka's commits (committedPastLedger, ledgerLost); both on one node
 * (a single Redis) lose the shard's writes too, so the check reports what was really lost.
 * A check therefore reports behind only what some node lost (or the trigger gave up on);
 * repairs replay through the guard, so replaying what a node still holds is harmless anyway.
 */
async function readRedis(
  deps: DriftCheckDependencies,
  options: DriftCheckOptions,
  ranges: PartitionRange[],
): Promise<RedisHoldings> {
  const keyPrefix = deps.sink.guard.keyPrefix;
  const reads = deps.reads ?? redisDriftReads(deps.redis, keyPrefix, options.maxStateEntries);
  const ledgers = await reads.ledgers(ranges.map(topicPartition));
  const shards = await reads.shards();
  const deadLetters = await reads.deadLetters();
  const applied = appliedCheckpoints(shards, deadLetters.checkpoints);
  return { ledgers, shards, deadLetters, applied };
}

/** One partition's lags and what Redis holds less than was handled (time lag comes later). */
function partitionDrift(
  range: PartitionRange,
  committed: Map<string, bigint>,
  redis: RedisHoldings,
): PartitionDrift {
  const id = topicPartition(range);
  const groupNext = committed.get(id);
  const checkpoint = redis.applied.get(id);
  const appliedNext = checkpoint === undefined ? undefined : checkpoint + 1n;
  const appliedFrom = maxBigInt(appliedNext ?? range.earliest, range.earliest);
  return {
    partition: id,
    topic: range.topic,
    index: range.partition,
    earliest: range.earliest,
    end: range.end,
    committed: groupNext,
    appliedNext,
    consumerLag: Number(range.end - maxBigInt(groupNext ?? range.earliest, range.earliest)),
    appliedLag: Number(maxBigInt(range.end - appliedFrom, 0n)),
    timeLagSeconds: 0,
    commitAhead: groupNext === undefined ? 0 : Number(maxBigInt(groupNext - appliedFrom, 0n)),
    behind: behindRanges(
      { earliest: range.earliest, end: range.end, committed: groupNext },
      redis.ledgers.get(id),
      new Map(
        redis.shards.flatMap((s) => {
          const held = s.checkpoints.get(id);
          return held === undefined ? [] : [[s.shard, held] as const];
        }),
      ),
      redis.deadLetters.checkpoints.get(id),
    ),
  };
}

/** Sets each lagging partition's time lag: the age of its oldest record not applied. */
async function measureTimeLag(
  kafka: KafkaConnection,
  partitions: PartitionDrift[],
  now: () => number,
): Promise<void> {
  const timestamps = await oldestUnapplied(
    kafka,
    partitions.filter((p) => p.appliedLag > 0),
  );
  for (const p of partitions) {
    const ts = timestamps.get(p.partition);
    if (ts !== undefined) p.timeLagSeconds = Math.max(0, (now() - ts) / 1000);
  }
}

/** The value of each alarm's metric, over every partition and shard. */
function alarmValues(
  partitions: PartitionDrift[],
  redis: RedisHoldings,
  stateChecks: StateCheck[],
): Record<AlarmName, number> {
  const sum = (pick: (p: PartitionDrift) => number) =>
    partitions.reduce((total, p) => total + pick(p), 0);
  return {
    consumerLagRecords: sum((p) => p.consumerLag),
    appliedLagRecords: sum((p) => p.appliedLag),
    timeLagSeconds: Math.max(0, ...partitions.map((p) => p.timeLagSeconds)),
    commitAheadRecords: sum((p) => p.commitAhead),
    redisBehindRecords: sum((p) => p.behind.records + p.behind.beyondRetention),
    openGaps: redis.shards.reduce((total, s) => total + s.openGaps, 0),
    deadLetters: redis.deadLetters.depth,
    stateDriftKeys: stateChecks.filter((c) => c.kind === 'drift').length,
    vanishedShards: redis.shards.filter((s) => s.registered && !s.present).length,
  };
}

/**
 * The repair, with auto-replay on: one replay per partition from the first offset Redis lacks,
 * as a repair (the sink's checks would refuse it), which also closes the ledger's hole.
 */
async function repairLostWrites(
  deps: DriftCheckDependencies,
  partitions: PartitionDrift[],
  redis: RedisHoldings,
  options: DriftCheckOptions,
  started: number,
): Promise<ReplayResult | undefined> {
  const lost = partitions.flatMap((p) => {
    const range = repairRange(p.behind, p);
    return range ? [{ topic: p.topic, partition: p.index, ...range }] : [];
  });
  if (!options.autoReplay || lost.length === 0) return undefined;
  return repair(deps, lost, options, started, heldBy(redis, lost.map(topicPartition)));
}

/** What the check read of each partition in the shards and the dead letters (HeldCheckpoints). */
function heldBy(redis: RedisHoldings, partitions: string[]): Map<string, HeldCheckpoints> {
  return new Map(
    partitions.map((id) => [
      id,
      {
        shards: new Map(
          redis.shards.flatMap((s) => {
            const held = s.checkpoints.get(id);
            return held === undefined ? [] : [[s.shard, held] as const];
          }),
        ),
        deadLetters: redis.deadLetters.checkpoints.get(id),
      },
    ]),
  );
}

/**
 * A partition never handled whose log no longer starts at 0 and whose group has committed
 * nothing past its start: the run begins at the log start. (A sink that can read Kafka sees
 * this itself; one that cannot waits for this before it applies a batch past offset 0.)
 */
async function startFreshRuns(
  deps: DriftCheckDependencies,
  partitions: PartitionDrift[],
  ledgers: Map<string, LedgerEntry>,
  options: DriftCheckOptions,
): Promise<void> {
  if (!options.autoReplay || !deps.ports.ledger) return;
  for (const p of partitions) {
    const fresh = !ledgers.has(p.partition) && p.earliest > 0n;
    if (fresh && (p.committed === undefined || p.committed <= p.earliest))
      await deps.ports.ledger.advance(p.partition, {
        from: p.earliest,
        to: p.earliest - 1n,
        shards: new Map(),
        deadLettered: undefined,
      });
  }
}
