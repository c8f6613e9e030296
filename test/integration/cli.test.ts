/**
 * The operator CLI (`npm run seqguard -- …`) end to end, as a user runs it: environment in,
 * text and exit codes out, against the suite's Kafka and Redis.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { positionToken } from '../../core/events/position.ts';
import { stateKey } from '../../core/layout/keys.ts';
import { applyChunk } from '../../core/redis/apply-batch.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { createApplyEventsHandler } from '../../functions/apply-events/create-handler.ts';
import { scenarioMutations } from '../../local/scenario/capped-counter.ts';
import { guardedEvent, mskEvent, mskRecord } from '../helpers/events.ts';
import { createTopic, produce, suiteKafkaEnv, uniqueTopic } from '../helpers/kafka.ts';
import { lambdaContext } from '../helpers/lambda.ts';
import { coldStartClient, rawRedis, redisEnv, suiteTarget } from '../helpers/redis.ts';

const run = promisify(execFile);

async function seqguard(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout } = await run(process.execPath, ['tools/seqguard.ts', ...args], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: `${failed.stdout}${failed.stderr}` };
  }
}

let redis: RedisClient;
let raw: Redis;
const prefix = `c${randomBytes(4).toString('hex')}`;
const topic = uniqueTopic('cli');
let env: Record<string, string>;

const seedValue = (seq: number, player: string, delta: number) =>
  JSON.stringify({ sequence_id: seq, player_id: player, delta });

beforeAll(async () => {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  // The functions' environment: the CLI reads the Redis password from the Secrets Manager API
  // and signs MSK IAM tokens, when the suite is secure.
  env = {
    ...redisEnv(),
    ...suiteKafkaEnv(),
    SEQGUARD_FORMAT: 'mapped',
    SEQGUARD_KEY_PREFIX: prefix,
    SEQGUARD_TOPICS: topic,
    SEQGUARD_CONSUMER_GROUP: `seqguard-${topic}`,
  };
  redis = await coldStartClient(loadSinkConfig(env).redis);
  raw = rawRedis(suiteTarget());
  await createTopic(topic, 1);
  const records = [
    { seq: 1, player: 'ann', delta: 5 },
    { seq: 2, player: 'ann', delta: 7 },
    { seq: 1, player: 'bob', delta: 3 },
  ];
  await produce(
    topic,
    records.map((r) => ({
      partition: 0,
      key: r.player,
      value: seedValue(r.seq, r.player, r.delta),
    })),
  );
  // Applied by the real handler, as the event source mapping would deliver them.
  const handler = createApplyEventsHandler({ config: loadSinkConfig(env), redis });
  await handler(
    mskEvent(
      records.map((r, offset) =>
        mskRecord({
          topic,
          partition: 0,
          offset,
          key: r.player,
          value: seedValue(r.seq, r.player, r.delta),
        }),
      ),
    ),
    lambdaContext(),
  );
});
afterAll(() => {
  vi.unstubAllEnvs();
  redis.disconnect();
  raw.disconnect();
});

describe('npm run seqguard', () => {
  it('verify finds no difference, then names the one a write around the pipeline made', async () => {
    const clean = await seqguard(env, 'verify');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/OK/);

    await raw.zincrby(stateKey('default', 'leaderboard', prefix), 100, 'bob');
    const drifted = await seqguard(env, 'verify');
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toMatch(/default.*leaderboard.*bob/);
    expect(drifted.stdout).toMatch(/DRIFT/);
  });

  it('check reports the state drift as an alarm, and rebuild repairs it', async () => {
    const before = await seqguard(env, 'check');
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/^ALARM\s+StateDriftKeys\s+1/m);

    const rebuilt = await seqguard(env, 'rebuild', '--shard', 'default', '--key', 'leaderboard');
    expect(rebuilt.code).toBe(0);
    expect(await raw.zscore(stateKey('default', 'leaderboard', prefix), 'bob')).toBe('3');
    const after = await seqguard(env, 'check');
    expect(after.stdout).toMatch(/^OK\s+StateDriftKeys\s+0/m);
  });

  it('replay applies a range again and changes nothing that is already there', async () => {
    const result = await seqguard(
      env,
      'replay',
      '--topic',
      topic,
      '--partition',
      '0',
      '--from',
      '0',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/pass 1: 3 records, 0 applied, 0 refused, 3 already there/);
    expect(await raw.zscore(stateKey('default', 'leaderboard', prefix), 'ann')).toBe('12');
  });

  it('rebuilds a state of our own mutation with --mutations, and refuses it without', async () => {
    // Prepare: an applied cappedIncr in shard "own", then its key written around the pipeline.
    const shard = 'own';
    const mutation = scenarioMutations.mutation('cappedIncr', {
      key: 'spins',
      field: 'ann',
      delta: 3,
      cap: 10,
    });
    await applyChunk(redis, shard, [guardedEvent({ shard, seq: null, offset: 0, mutation })], {
      firstSeq: '1',
      streamMaxLen: 0,
      streamMaxAgeMs: 0,
      keyPrefix: prefix,
      mutations: scenarioMutations,
    });
    await raw.hset(stateKey(shard, 'spins', prefix), 'ann', '99');
    const rebuild = ['rebuild', '--shard', shard, '--key', 'spins'];
    // Act
    const without = await seqguard(env, ...rebuild);
    const withOwn = await seqguard(env, ...rebuild, '--mutations', 'test/fixtures/mutations.ts');
    const notARegistry = await seqguard(env, ...rebuild, '--mutations', 'core/json.ts');
    // Assess
    expect(without.code).toBe(1);
    expect(without.stdout).toMatch(/cappedIncr\\?" is not a registered mutation/);
    expect(withOwn.code).toBe(0);
    expect(JSON.parse(withOwn.stdout)).toMatchObject({ kind: 'rebuilt', changedTargets: 1 });
    expect(await raw.hget(stateKey(shard, 'spins', prefix), 'ann')).toBe('3');
    expect(notARegistry.code).toBe(2);
    expect(notARegistry.stdout).toMatch(
      /--mutations core\/json\.ts: the module exports no `mutations`/,
    );
  });

  it('reads at a position token: answers when Redis holds it, exits 3 when not, 2 on a bad token', async () => {
    const held = positionToken([{ topic, partition: 0, offset: 2n }]);
    const ahead = positionToken([{ topic, partition: 0, offset: 9n }]);
    const read = (...args: string[]) => seqguard(env, 'read', ...args);
    const board = ['leaderboard'];
    const at = (token: string) => ['--shard', 'default', '--at', token];
    // Act
    const rank = await read('rank', ...board, 'ann', ...at(held));
    const top = await read('top', ...board, '2', ...at(held));
    const around = await read('around', ...board, 'bob', '1', '--order', 'asc', ...at(held));
    const behind = await read('score', ...board, 'ann', ...at(ahead));
    const waited = await read('wait', held);
    const timedOut = await read('wait', ahead, '--timeout', '200');
    const garbage = await read('rank', ...board, 'ann', ...at('nonsense'));
    const noShard = await read('rank', ...board, 'ann');
    // Assess
    expect(rank.code).toBe(0);
    expect(JSON.parse(rank.stdout)).toEqual({ member: 'ann', score: 12, rank: 0 });
    expect(JSON.parse(top.stdout)).toEqual([
      { member: 'ann', score: 12, rank: 0 },
      { member: 'bob', score: 3, rank: 1 },
    ]);
    expect(JSON.parse(around.stdout)).toEqual([
      { member: 'bob', score: 3, rank: 0 },
      { member: 'ann', score: 12, rank: 1 },
    ]);
    expect(behind.code).toBe(3);
    expect(behind.stdout).toMatch(/-0 at 9: notYetHandled, 7 behind \(reached 2\)/);
    expect(waited.code).toBe(0);
    expect(JSON.parse(waited.stdout)).toMatchObject({ reached: true });
    expect(timedOut.code).toBe(3);
    expect(garbage.code).toBe(2);
    expect(garbage.stdout).toMatch(/not a seqguard position token/);
    expect(noShard.code).toBe(2);
    expect(noShard.stdout).toMatch(/--shard is required/);
  });

  it('explains its usage and fails on a missing flag', async () => {
    const result = await seqguard(env, 'replay', '--topic', topic);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/--partition is required/);
  });

  it('prints its usage and succeeds on --help, with no configuration at all', async () => {
    const help = await seqguard({ SEQGUARD_TOPICS: '', REDIS_URL: '' }, '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run seqguard -- <command>/);
    const none = await seqguard(env);
    expect(none.code).toBe(2);
  });
});
