/**
 * A rolling deploy on real parts: while `cdk deploy` replaces the function, the trigger runs the
 * old code and the new side by side on the same Redis. Here two local pipelines share one
 * consumer group of one topic, as two versions of the function behind one trigger would: the
 * current code (the deployed bundle under AWS's runtime) and the code of the last commit that
 * changed the layout (test/helpers/previous-version.ts, from git history, in the source
 * sandbox). Partitions move between them as each joins and leaves the group, both are killed
 * mid-batch, and the deploy is then rolled back, the old code alone taking what the new one
 * wrote. Redis ends equal to the unique events, every malformed record dead-lettered once.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin } from '../../core/kafka/connection.ts';
import { triggerGroupId } from '../../core/kafka/consumer-groups.ts';
import { committedOffsets } from '../../core/kafka/offsets.ts';
import { metaField } from '../../core/layout/codecs.ts';
import { deadLetterKeys, shardKeys } from '../../core/layout/keys.ts';
import { layoutVersion, streamFormat } from '../../core/layout/versions.ts';
import type { EsmActivity } from '../../local/emulators/lambda/event-source-mapping.ts';
import type { Pipeline, PipelineFunctionOptions } from '../../local/emulators/pipeline.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import {
  createTopic,
  endOffsets,
  produce,
  startSuitePipeline,
  suiteKafka,
  type TestRecord,
  uniqueTopic,
} from '../helpers/kafka.ts';
import { type PreviousVersion, previousVersion } from '../helpers/previous-version.ts';
import { leaderboardOf } from '../helpers/reading.ts';
import {
  type RedisTarget,
  rawRedis,
  redisEnv,
  startTestRedisServer,
  targetOf,
} from '../helpers/redis.ts';

const partitions = 4;
const players = 16;

let redisServer: RedisServer;
let target: RedisTarget;
let redis: Redis;
let previous: PreviousVersion;
beforeAll(async () => {
  previous = previousVersion();
  redisServer = await startTestRedisServer();
  target = await targetOf(redisServer);
  redis = rawRedis(target);
});
afterAll(async () => {
  redis?.disconnect();
  await redisServer?.dispose();
});

/** The events of a wave, seq per player, some sent twice, some malformed; and what they add. */
class Traffic {
  readonly expected = new Map<string, number>();
  readonly records: TestRecord[] = [];
  unique = 0;
  malformed = 0;
  readonly #nextSeq = new Map<string, number>();

  wave(count: number): TestRecord[] {
    const wave: TestRecord[] = [];
    for (let i = 0; i < count; i++) {
      const player = `p-${(this.unique * 7) % players}`;
      const seq = (this.#nextSeq.get(player) ?? 0) + 1;
      this.#nextSeq.set(player, seq);
      const delta = (this.unique % 5) + 1;
      this.expected.set(player, (this.expected.get(player) ?? 0) + delta);
      this.unique += 1;
      const record = {
        partition: Number(player.slice(2)) % partitions,
        key: player,
        value: JSON.stringify({ sequence_id: seq, player_id: player, delta }),
      };
      wave.push(record);
      if (i % 37 === 0) wave.push({ ...record }); // a producer retry: the same event twice
      if (i % 101 === 50) {
        wave.push({ partition: i % partitions, key: player, value: '{"sequence_id": ' });
        this.malformed += 1;
      }
    }
    this.records.push(...wave);
    return wave;
  }
}

/** Waits until the trigger's group has committed every partition to its end. */
async function caughtUp(topic: string, base: string, records: TestRecord[]) {
  const groupId = triggerGroupId(base, topic);
  const admin = createAdmin(suiteKafka('rolling-deploy-admin'));
  try {
    const want = endOffsets(records, topic);
    await expect
      .poll(
        async () => {
          const committed = await committedOffsets(admin, groupId, [topic]);
          return [...want].every(([id, end]) => committed.get(id) === end);
        },
        { timeout: 90_000, interval: 250, message: 'the group to commit every partition' },
      )
      .toBe(true);
  } finally {
    await admin.close();
  }
}

interface Version {
  label: 'current' | 'previous';
  pipeline?: Pipeline;
  /** Records each invocation returned as handled, by outcome. */
  handled: number;
  kills: number;
}

describe('a rolling deploy', () => {
  it('runs the previous layout and the current side by side, with kills, and ends exact', {
    timeout: 240_000,
  }, async () => {
    // Prepare
    const topic = uniqueTopic('rolling');
    await createTopic(topic, partitions);
    const prefix = `r${randomBytes(4).toString('hex')}`;
    const groupId = `seqguard-${topic}`;
    const traffic = new Traffic();
    const env = {
      ...redisEnv(target),
      SEQGUARD_FORMAT: 'mapped',
      SEQGUARD_KEY_PREFIX: prefix,
      SEQGUARD_CHUNK_SIZE: '10',
    };
    const versions: Record<Version['label'], Version> = {
      current: { label: 'current', handled: 0, kills: 0 },
      previous: { label: 'previous', handled: 0, kills: 0 },
    };
    /** Starts a version's pipeline; its sandbox is killed mid-batch at `killAt` invocations. */
    const start = (version: Version, killAt: number[]) => {
      const code: Partial<PipelineFunctionOptions> =
        version.label === 'previous'
          ? { module: previous.applyEventsModule, sandbox: 'source' }
          : {};
      version.pipeline = startSuitePipeline({
        function: {
          ...code,
          env,
          onInvoke: (sandbox, invocation) => {
            if (!killAt.includes(invocation)) return;
            setTimeout(() => {
              if (sandbox.busy && sandbox.kill('SIGKILL')) version.kills += 1;
            }, 3);
          },
        },
        mapping: {
          topics: [topic],
          groupId,
          batchSize: 40,
          batchWindowMs: 50,
          retryBackoffMs: 50,
          onActivity: (a: EsmActivity) => {
            if (a.kind === 'invoked' && a.outcome === 'success') version.handled += a.records;
          },
        },
      });
      return version.pipeline;
    };
    const stop = async (version: Version) => {
      await version.pipeline?.stop();
      version.pipeline = undefined;
    };

    try {
      // Act: before the deploy, the previous code alone.
      await produce(topic, traffic.wave(400));
      await start(versions.previous, [3]).warmUp();
      await caughtUp(topic, groupId, traffic.records);
      // The deploy: the current code joins the group, and both take batches. The group gives it
      // partitions only at the rebalance its join starts, which may come after the previous code
      // handled what is there: small waves until the current code took some, then a large one.
      const beforeDeploy = versions.previous.handled;
      await start(versions.current, [2, 5]).warmUp();
      const joining = Date.now() + 120_000;
      while (versions.current.handled === 0) {
        if (Date.now() > joining) throw new Error('the current code took no records in 120 s');
        await produce(topic, traffic.wave(40));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const previousJoined = versions.previous.handled;
      await produce(topic, traffic.wave(900));
      await caughtUp(topic, groupId, traffic.records);
      const sideBySide = {
        previous: versions.previous.handled - previousJoined,
        previousInDeploy: versions.previous.handled - beforeDeploy,
        current: versions.current.handled,
      };
      // The deploy completes: the previous code leaves.
      await stop(versions.previous);
      await produce(topic, traffic.wave(300));
      await caughtUp(topic, groupId, traffic.records);
      // A rollback: the previous code again, alone, on what the current one wrote.
      const handledBeforeRollback = versions.previous.handled;
      await stop(versions.current);
      await start(versions.previous, [2]).warmUp();
      await produce(topic, traffic.wave(300));
      await caughtUp(topic, groupId, traffic.records);
      await stop(versions.previous);

      // Assess: both versions handled records, side by side and after the rollback.
      expect(beforeDeploy).toBeGreaterThan(0);
      expect(sideBySide.current).toBeGreaterThan(0);
      expect(sideBySide.previous).toBeGreaterThan(0);
      expect(sideBySide.previousInDeploy).toBeGreaterThan(0);
      expect(versions.previous.handled).toBeGreaterThan(handledBeforeRollback);
      expect(versions.previous.kills + versions.current.kills).toBeGreaterThanOrEqual(2);
      const ranked = await leaderboardOf(redis, 'default', prefix);
      const board = new Map(ranked.map(({ member, score }) => [member, score]));
      const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => a.localeCompare(b));
      expect(sorted(board)).toEqual(sorted(traffic.expected));
      const keys = shardKeys('default', prefix);
      expect(await redis.xlen(keys.stream)).toBe(traffic.unique);
      expect(await redis.hget(keys.meta, metaField.applied)).toBe(String(traffic.unique));
      expect(await redis.zcard(keys.gaps)).toBe(0);
      expect(await redis.xlen(deadLetterKeys(prefix).stream)).toBe(traffic.malformed);
      // The current code stamped the shard; the previous one left the stamp as it was.
      expect(await redis.hmget(keys.meta, metaField.layout, metaField.streamFormat)).toEqual([
        String(layoutVersion.written),
        String(streamFormat.written),
      ]);
    } finally {
      await stop(versions.current);
      await stop(versions.previous);
    }
  });
});
