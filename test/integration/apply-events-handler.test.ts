/**
 * The apply-events handler, driven by MSK event fixtures (test/fixtures/events) against a real Redis.
 */
import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { MSKEvent } from 'aws-lambda';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { deadLetterKeys, partitionLedgerKey, shardKeys, stateKey } from '../../core/layout/keys.ts';
import { createRedisClient, type RedisClient } from '../../core/redis/client.ts';
import { createApplyEventsHandler } from '../../functions/apply-events/create-handler.ts';
import { type RedisCluster, waitForClusterOk } from '../../local/emulators/redis/cluster.ts';
import type { RedisServer } from '../../local/emulators/redis/server.ts';
import { mskEvent, mskRecord } from '../helpers/events.ts';
import {
  captureEmf,
  lambdaContext,
  loadEvent,
  quietApplyEventsHandler,
} from '../helpers/lambda.ts';
import { handledBefore } from '../helpers/ledger.ts';
import {
  appLogin,
  type RedisTarget,
  rawCluster,
  rawRedis,
  redisEnv,
  startTestRedisCluster,
  startTestRedisServer,
  suiteTarget,
  targetOf,
} from '../helpers/redis.ts';

const clients: RedisClient[] = [];
let raw: Redis;
beforeAll(() => {
  raw = rawRedis(suiteTarget());
});
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});
afterAll(() => raw.disconnect());

/** A handler on its own key prefix, so that fixtures with fixed shard names never meet. */
function sink(env: Record<string, string> = {}, target: RedisTarget = suiteTarget()) {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const config = loadSinkConfig({ ...redisEnv(target), SEQGUARD_KEY_PREFIX: prefix, ...env });
  const redis = createRedisClient({ ...config.redis, ...appLogin(target), commandTimeoutMs: 500 });
  clients.push(redis);
  const { handler, metrics } = quietApplyEventsHandler(config, redis);
  const added = vi.spyOn(metrics, 'addMetric');
  // The fixtures are partitions mid-stream: their earlier offsets were handled.
  const invoke = async (event: MSKEvent) => {
    await handledBefore(redis, prefix, event).catch(() => {}); // Redis may be down on purpose
    return handler(structuredClone(event), lambdaContext());
  };
  const metric = (name: string) =>
    added.mock.calls
      .filter(([n]) => n === name)
      .reduce((sum, [, , value]) => sum + Number(value), 0);
  return { invoke, prefix, metric };
}

const seedEnv = { SEQGUARD_FORMAT: 'mapped', SEQGUARD_DEFAULT_SHARD: 'game' };

describe('apply-events handler', () => {
  it('applies the seed format through configuration alone, once across redeliveries', async () => {
    // Prepare
    const { invoke, prefix, metric } = sink(seedEnv);
    const event = await loadEvent('msk-seed-format');
    // Act
    const first = await invoke(event);
    const again = await invoke(event);
    // Assess
    expect(first).toEqual({ batchItemFailures: [] });
    expect(again).toEqual({ batchItemFailures: [] });
    const board = stateKey('game', 'leaderboard', prefix);
    expect(await raw.zrange(board, '0', '-1', 'WITHSCORES')).toEqual([
      'p-3',
      '7',
      'p-2',
      '8',
      'p-1',
      '15',
    ]);
    expect(await raw.hgetall(shardKeys('game', prefix).cursors)).toEqual({
      's:p-1': '2',
      's:p-2': '3',
      's:p-3': '1',
    });
    expect(await raw.xlen(shardKeys('game', prefix).stream)).toBe(6);
    expect(metric('EventsApplied')).toBe(6);
    expect(metric('EventsAppliedLate')).toBe(1);
    expect(metric('GapsOpened')).toBe(1);
    expect(metric('EventsDuplicate')).toBe(1 + 7);
  });

  it('applies envelope events of several topics, partitions and shards', async () => {
    const { invoke, prefix } = sink();
    const result = await invoke(await loadEvent('msk-envelope-mixed'));
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await raw.hget(stateKey('tenant-a', 'balances', prefix), 'wallet-9')).toBe('1800');
    expect(await raw.hget(stateKey('tenant-b', 'balances', prefix), 'wallet-4')).toBe('150');
    expect(await raw.hget(stateKey('tenant-a', 'profiles', prefix), 'wallet-9')).toBe('gold');
    expect(await raw.hget(shardKeys('tenant-a', prefix).cursors, 's:profile-9')).toBe(
      '9007199254740993',
    );
    expect(await raw.zscore(stateKey('tenant-b', 'top-spenders', prefix), 'wallet-4')).toBe('1.5');
    expect(await raw.hget(shardKeys('tenant-b', prefix).cursors, 'o:payments-2')).toBe('4');
    expect(await raw.hgetall(shardKeys('tenant-b', prefix).offsets)).toEqual({
      'payments-0': '9',
      'payments-2': '4',
      'audit-0': '0',
    });
  });

  it('dead-letters malformed records with their reasons, once, and applies the rest', async () => {
    const { invoke, prefix, metric } = sink({ ...seedEnv, SEQGUARD_MAX_VALUE_BYTES: '1024' });
    const event = await loadEvent('msk-malformed');

    expect(await invoke(event)).toEqual({ batchItemFailures: [] });
    expect(await invoke(event)).toEqual({ batchItemFailures: [] });

    const letters = await raw.xrange(deadLetterKeys(prefix).stream, '-', '+');
    const byOffset = Object.fromEntries(
      letters.map(([, f]) => {
        const e = Object.fromEntries(f.flatMap((_, i) => (i % 2 ? [] : [[f[i], f[i + 1]]])));
        return [`${e.tp}@${e.offset}`, e];
      }),
    );
    expect(Object.keys(byOffset).sort()).toEqual([
      'game.events-0@11',
      'game.events-0@12',
      'game.events-0@13',
      'game.events-1@20',
      'game.events-1@22',
      'game.events-1@23',
      'game.events-1@24',
    ]);
    expect(byOffset['game.events-0@11']?.reason).toMatch(/^value is not JSON/);
    expect(byOffset['game.events-0@12']?.reason).toBe('schema: delta: must be a finite number');
    expect(byOffset['game.events-0@13']?.reason).toBe('record has no value (tombstone)');
    expect(byOffset['game.events-1@20']?.reason).toMatch(
      /^value is \d+ bytes, above the limit of 1024$/,
    );
    expect(byOffset['game.events-1@22']?.reason).toBe('value is not UTF-8');
    expect(byOffset['game.events-1@23']?.reason).toBe(
      'event has a seq but no scope, and the record has no key',
    );
    expect(byOffset['game.events-1@24']?.reason).toBe('value is not a JSON object');
    // The raw record is kept byte for byte.
    const original = event.records['game.events-1']?.find((r) => r.offset === 22);
    expect(byOffset['game.events-1@22']?.value).toBe(original?.value);
    expect(byOffset['game.events-1@22']?.key).toBe(original?.key);
    expect(metric('RecordsDeadLettered')).toBe(14);

    const board = stateKey('game', 'leaderboard', prefix);
    expect(await raw.zrange(board, '0', '-1', 'WITHSCORES')).toEqual(['p-1', '5', 'p-2', '6']);
    // seq 1 of p-2 was dead-lettered, so its gap stays open for a repair to fill.
    expect(await raw.zcard(shardKeys('game', prefix).gaps)).toBe(1);
  });

  it('rejects a mutation Redis refuses into the dead-letter stream without blocking the partition', async () => {
    const { invoke, prefix } = sink(seedEnv);
    await raw.set(stateKey('game', 'leaderboard', prefix), 'written around the pipeline');
    const event = await loadEvent('msk-seed-format');
    expect(await invoke(event)).toEqual({ batchItemFailures: [] });
    const letters = await raw.xrange(deadLetterKeys(prefix).stream, '-', '+');
    expect(letters).toHaveLength(7);
    expect(letters[0]?.[1]).toContain(
      'guard: the state key holds another Redis type than the operation needs',
    );
  });
});

describe('apply-events handler on a shard a newer version wrote', () => {
  it('retries its records, never dead-letters them, says why, and applies them once it may', async () => {
    // Prepare: a newer seqguard stamped tenant-b (core/layout/versions.ts) during a rolling
    // deploy; tenant-a is this version's.
    const { invoke, prefix, metric } = sink();
    const meta = shardKeys('tenant-b', prefix).meta;
    await raw.hset(meta, 'layout', '2');
    const logged = vi.spyOn(Logger.prototype, 'error');
    onTestFinished(() => logged.mockRestore());
    const event = await loadEvent('msk-envelope-mixed');
    // Act
    const refused = await invoke(event);
    // Assess: tenant-b's records come again; tenant-a's are applied.
    const retried = refused.batchItemFailures.map((f) => f.itemIdentifier);
    expect(retried).toEqual([
      { partition: 'payments-0', offset: 9 },
      { partition: 'payments-2', offset: 4 },
      { partition: 'audit-0', offset: 0 },
    ]);
    expect(await raw.xlen(deadLetterKeys(prefix).stream)).toBe(0);
    expect(metric('RecordsDeadLettered')).toBe(0);
    expect(metric('NewerLayoutRefusals')).toBe(1);
    const errors = logged.mock.calls.map(([, extra]) => (extra as { error: Error }).error);
    expect(errors.map((e) => e.name)).toContain('RedisNewerLayoutError');
    expect(errors.map((e) => e.message).join('\n')).toMatch(
      /holds layout 2, written by a newer seqguard/,
    );
    expect(await raw.hget(stateKey('tenant-a', 'balances', prefix), 'wallet-9')).toBe('1800');
    expect(await raw.exists(stateKey('tenant-b', 'balances', prefix))).toBe(0);

    // Act: the stamp is one this version reads again (the newer version rolled back before it
    // wrote), and the trigger delivers the batch again.
    await raw.hset(meta, 'layout', '1');
    const again = await invoke(event);
    // Assess: every record once, as the batch without the refusal leaves them.
    expect(again).toEqual({ batchItemFailures: [] });
    expect(await raw.hget(stateKey('tenant-a', 'balances', prefix), 'wallet-9')).toBe('1800');
    expect(await raw.hget(stateKey('tenant-b', 'balances', prefix), 'wallet-4')).toBe('150');
    expect(await raw.zscore(stateKey('tenant-b', 'top-spenders', prefix), 'wallet-4')).toBe('1.5');
    expect(await raw.hgetall(shardKeys('tenant-b', prefix).offsets)).toEqual({
      'payments-0': '9',
      'payments-2': '4',
      'audit-0': '0',
    });
  });
});

describe('apply-events handler when Redis fails', () => {
  let server: RedisServer;
  let target: RedisTarget;
  beforeAll(async () => {
    server = await startTestRedisServer();
    target = await targetOf(server);
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('reports every record of every partition for retry while Redis is down, then applies them once', async () => {
    const { invoke, prefix } = sink(seedEnv, target);
    const event = await loadEvent('msk-seed-format');
    const seeding = rawRedis(target);
    await handledBefore(seeding, prefix, event);
    seeding.disconnect();
    // Down, not wiped: a Redis that comes back without its data is a loss the partition
    // ledger catches (test/integration/redis-forgets.test.ts).
    server.freeze();

    const failed = await invoke(event);

    expect(failed.batchItemFailures).toEqual([
      ...[100, 101, 102, 103].map((offset) => ({
        itemIdentifier: { partition: 'game.events-0', offset },
      })),
      ...[40, 41, 42].map((offset) => ({ itemIdentifier: { partition: 'game.events-1', offset } })),
    ]);

    server.thaw();
    expect(await invoke(event)).toEqual({ batchItemFailures: [] });
    expect(await invoke(event)).toEqual({ batchItemFailures: [] });
    const check = rawRedis(target);
    try {
      expect(await check.zscore(stateKey('game', 'leaderboard', prefix), 'p-1')).toBe('15');
      expect(await check.xlen(shardKeys('game', prefix).stream)).toBe(6);
    } finally {
      check.disconnect();
    }
  });
});

describe('apply-events handler when a cluster node dies mid-batch', () => {
  let cluster: RedisCluster;
  let target: RedisTarget;
  /** As the admin user: CLUSTER KEYSLOT is no command the app user may run. */
  let raw: Cluster;
  beforeAll(async () => {
    cluster = await startTestRedisCluster(3);
    target = await targetOf(cluster);
    raw = rawCluster(target, 'admin');
  });
  afterAll(async () => {
    raw.disconnect();
    await cluster.dispose();
  });

  /** Whether `key` lives on the master listening on `port`. */
  async function isOn(key: string, port: number): Promise<boolean> {
    const ranges = (await raw.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const slot = Number(await raw.cluster('KEYSLOT', key));
    return ranges.some(([from, to, [, p]]) => p === port && slot >= from && slot <= to);
  }

  /** A shard name whose keys live on the master listening on `port`. */
  async function shardOn(port: number, prefix: string): Promise<string> {
    for (let i = 0; ; i++) {
      const shard = `shard-${i}`;
      if (await isOn(shardKeys(shard, prefix).cursors, port)) return shard;
    }
  }

  /**
   * A key prefix under which the ledgers of events-0 and events-1 (partitionLedgerKey) live on
   * the node at `onPort` (events-0) and never on the node at `notOnPort` (events-1).
   */
  async function prefixWithLedgers(onPort: number, notOnPort: number): Promise<string> {
    for (;;) {
      const prefix = `t${randomBytes(4).toString('hex')}`;
      if (
        (await isOn(partitionLedgerKey('events-0', prefix), onPort)) &&
        !(await isOn(partitionLedgerKey('events-1', prefix), notOnPort))
      )
        return prefix;
    }
  }

  it('fails exactly the records from the first one on the dead node, per partition, and applies them once later', async () => {
    // Prepare: the partitions' ledgers live on the nodes that stay up (the next test kills one).
    const [alive, doomed] = cluster.nodes as [RedisServer, RedisServer, RedisServer];
    const prefix = await prefixWithLedgers(alive.port, doomed.port);
    const { invoke } = sink({ SEQGUARD_KEY_PREFIX: prefix }, target);
    const shardA = await shardOn(alive.port, prefix);
    const shardB = await shardOn(doomed.port, prefix);
    const envelope = (shard: string, scope: string, seq: number) =>
      JSON.stringify({
        scope,
        seq,
        shard,
        type: 'hincrby',
        data: { key: 'coins', field: scope, delta: 10 },
      });
    const event = mskEvent([
      mskRecord({ partition: 0, offset: 0, value: envelope(shardA, 'a', 1) }),
      mskRecord({ partition: 0, offset: 1, value: envelope(shardB, 'b', 1) }),
      mskRecord({ partition: 0, offset: 2, value: envelope(shardA, 'a', 2) }),
      mskRecord({ partition: 1, offset: 0, value: envelope(shardA, 'c', 1) }),
      mskRecord({ partition: 1, offset: 1, value: envelope(shardA, 'c', 2) }),
    ]);
    // A running function's client knows the cluster already: warm it up on another partition
    // and state key before the node dies, as a cold client would fail everything while it
    // still discovers the nodes.
    const warmUp = JSON.stringify({
      scope: 'w',
      seq: 1,
      shard: shardA,
      type: 'hincrby',
      data: { key: 'warm-up', field: 'w', delta: 1 },
    });
    expect(await invoke(mskEvent([mskRecord({ partition: 9, offset: 0, value: warmUp })]))).toEqual(
      {
        batchItemFailures: [],
      },
    );
    await doomed.stop();

    // Act
    const failed = await invoke(event);

    // Assess
    expect(failed.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'events-0', offset: 1 } },
      { itemIdentifier: { partition: 'events-0', offset: 2 } },
    ]);
    expect(await raw.hgetall(stateKey(shardA, 'coins', prefix))).toEqual({ a: '20', c: '20' });

    await doomed.start();
    await waitForClusterOk(cluster);
    const redelivered = mskEvent(event.records['events-0']?.filter((r) => r.offset >= 1) ?? []);
    expect(await invoke(redelivered)).toEqual({ batchItemFailures: [] });
    expect(await raw.hgetall(stateKey(shardA, 'coins', prefix))).toEqual({ a: '20', c: '20' });
    expect(await raw.hgetall(stateKey(shardB, 'coins', prefix))).toEqual({ b: '10' });
  });

  it('fails a partition whole while the node holding its ledger is down, and applies it once later', async () => {
    // Prepare: events-0's ledger lives on the node that dies; its events and events-1's, and
    // events-1's ledger, live elsewhere.
    const [alive, doomed] = cluster.nodes as [RedisServer, RedisServer, RedisServer];
    const prefix = await prefixWithLedgers(doomed.port, doomed.port);
    const { invoke } = sink({ SEQGUARD_KEY_PREFIX: prefix }, target);
    const shard = await shardOn(alive.port, prefix);
    const envelope = (scope: string, seq: number) =>
      JSON.stringify({
        scope,
        seq,
        shard,
        type: 'hincrby',
        data: { key: 'coins', field: scope, delta: 10 },
      });
    const event = mskEvent([
      mskRecord({ partition: 0, offset: 0, value: envelope('a', 1) }),
      mskRecord({ partition: 0, offset: 1, value: envelope('a', 2) }),
      mskRecord({ partition: 1, offset: 0, value: envelope('c', 1) }),
    ]);
    const warmUp = mskEvent([mskRecord({ partition: 9, offset: 0, value: envelope('w', 1) })]);
    expect(await invoke(warmUp)).toEqual({ batchItemFailures: [] });
    await doomed.stop();
    // Act
    const failed = await invoke(event);
    // Assess: without its ledger, events-0 cannot be checked nor recorded: none of it applies.
    expect(failed.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'events-0', offset: 0 } },
      { itemIdentifier: { partition: 'events-0', offset: 1 } },
    ]);
    expect(await raw.hgetall(stateKey(shard, 'coins', prefix))).toEqual({ c: '10', w: '10' });
    await doomed.start();
    await waitForClusterOk(cluster);
    const redelivered = mskEvent(event.records['events-0'] ?? []);
    expect(await invoke(redelivered)).toEqual({ batchItemFailures: [] });
    expect(await raw.hgetall(stateKey(shard, 'coins', prefix))).toEqual({
      a: '20',
      c: '10',
      w: '10',
    });
  });
});

// The metrics of a deployment go to its own namespace (SEQGUARD_METRICS_NAMESPACE, its prefix),
// where its alarms read them, never a second deployment's (CloudWatch user guide, "Namespaces",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Namespace).
describe("apply-events handler's own metrics", () => {
  /** A handler built as handler.ts builds it: its Metrics its own, not the test's. */
  async function namespacesOf(env: Record<string, string>): Promise<string[]> {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const config = loadSinkConfig({ ...redisEnv(), SEQGUARD_KEY_PREFIX: prefix, ...env });
    const redis = createRedisClient({ ...config.redis, ...appLogin(suiteTarget()) });
    clients.push(redis);
    const handler = createApplyEventsHandler({
      config,
      redis,
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    const event = await loadEvent('msk-envelope-mixed');
    await handledBefore(redis, prefix, event);
    const emf = captureEmf();
    onTestFinished(emf.restore);
    await handler(event, lambdaContext());
    emf.restore();
    const published = emf.documents().filter((d) => 'EventsApplied' in d);
    expect(published).toHaveLength(1);
    return published.flatMap((d) => d._aws.CloudWatchMetrics.map((m) => m.Namespace));
  }

  it('publishes in the namespace SEQGUARD_METRICS_NAMESPACE names', async () => {
    expect(await namespacesOf({ SEQGUARD_METRICS_NAMESPACE: 'shop' })).toEqual(['shop']);
  });

  it('publishes in seqguard without it, the namespace of the default prefix', async () => {
    expect(await namespacesOf({})).toEqual(['seqguard']);
  });
});
