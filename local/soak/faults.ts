/**
 * The soak's faults, made on the real parts: each takes what it acts on from a context and
 * returns what happened, in words for the report, and whether Redis lost acknowledged writes
 * (measured: the shard's `applied` count in meta before and after, not assumed from the kind).
 */

import { readFileSync } from 'node:fs';
import { copyFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { KafkaBroker } from '../emulators/kafka/broker.ts';
import type { Pipeline } from '../emulators/pipeline.ts';
import { type RedisCluster, waitForClusterOk } from '../emulators/redis/cluster.ts';
import type { RedisServer } from '../emulators/redis/server.ts';
import type { TcpProxy } from '../emulators/tcp-proxy.ts';
import { SoakError } from '../scenario/errors.ts';
import type { ScheduledFault } from './schedule.ts';

export interface FaultContext {
  broker: KafkaBroker;
  /** The single server, or the cluster: what a Redis fault acts on. */
  redis: { kind: 'single'; server: RedisServer } | { kind: 'cluster'; cluster: RedisCluster };
  /** A key of the busy shard: its master is the node Redis faults act on. */
  shardKey: string;
  /** The shard's meta key (its `applied` count tells whether writes were lost). */
  metaKey: string;
  proxy: TcpProxy | undefined;
  /** A second mapping from the earliest offset, for the redelivery storm. */
  startStorm(n: number): Pipeline;
  /** Sets up a sink kill at `point`; resolves once it hit a batch (re-armed until then). */
  armSinkKill(fault: ScheduledFault): void;
  armProducerKill(n: number): Promise<string>;
}

export interface FaultOutcome {
  detail: string;
  /** Effects of acknowledged events that Redis no longer held after the fault. */
  lostApplied: number;
  /** The fault's effect lasted until now (absent: instant). */
  lasting: boolean;
}

/** A command to one node, as an operator's redis-cli would send it. */
export async function onNode<T>(node: RedisServer, work: (c: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    host: '127.0.0.1',
    port: node.port,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    ...(node.access
      ? {
          tls: { ca: readFileSync(node.access.caFile) },
          username: node.access.admin.username,
          password: node.access.admin.password,
        }
      : {}),
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await work(client);
  } finally {
    client.disconnect();
  }
}

async function shardNode(
  ctx: FaultContext,
): Promise<{ node: RedisServer; replicas: RedisServer[] }> {
  if (ctx.redis.kind === 'single') return { node: ctx.redis.server, replicas: [] };
  const { master, replicas } = await ctx.redis.cluster.ownersOf(ctx.shardKey);
  return { node: master, replicas };
}

async function appliedOn(node: RedisServer, metaKey: string): Promise<number> {
  return Number((await onNode(node, (c) => c.hget(metaKey, 'applied')).catch(() => '0')) ?? 0);
}

/** The node is up again, and (on a cluster) every slot is served. */
async function settled(ctx: FaultContext): Promise<void> {
  if (ctx.redis.kind === 'cluster') {
    await waitForClusterOk(ctx.redis.cluster);
  }
}

const SNAPSHOT = 'soak-snapshot.rdb';
/** Which node the last snapshot was taken of. */
let snapshotOf: RedisServer | undefined;

/** A snapshot (BGSAVE) of the shard's node, kept aside for a later rollback. */
export async function takeSnapshot(ctx: FaultContext): Promise<string> {
  const { node } = await shardNode(ctx);
  // A new dump.rdb is renamed into place when the save ends: a new inode says it is done.
  const dump = join(node.dir, 'dump.rdb');
  const inode = async () => (await stat(dump).catch(() => undefined))?.ino;
  const before = await inode();
  // SCHEDULE: an AOF rewrite (after a restart) may be running; the save then follows it.
  await onNode(node, (c) => c.call('BGSAVE', 'SCHEDULE'));
  const deadline = Date.now() + 60_000;
  while ((await inode()) === before) {
    if (Date.now() > deadline)
      throw new SoakError(`no snapshot of the node on ${node.port} within 60 s`);
    await sleep(100);
  }
  await copyFile(join(node.dir, 'dump.rdb'), join(node.dir, SNAPSHOT));
  snapshotOf = node;
  return `snapshot of the node on port ${node.port} (applied ${await appliedOn(node, ctx.metaKey)})`;
}

export async function runFault(
  fault: ScheduledFault,
  ctx: FaultContext,
  n: number,
): Promise<FaultOutcome> {
  const instant = (detail: string): FaultOutcome => ({ detail, lostApplied: 0, lasting: false });
  switch (fault.kind) {
    case 'sinkKill':
      ctx.armSinkKill(fault);
      return instant(`armed at ${fault.point}`);
    case 'producerKill':
      return instant(await ctx.armProducerKill(n));
    case 'connectionDrop': {
      const dropped = ctx.proxy?.dropConnections() ?? 0;
      return instant(`${dropped} connections from the sink to Redis cut`);
    }
    case 'networkLatency': {
      ctx.proxy?.setLatency(fault.latencyMs ?? 100);
      await sleep(fault.durationMs ?? 5_000);
      ctx.proxy?.setLatency(0);
      return {
        detail: `+${fault.latencyMs} ms each way for ${fault.durationMs} ms`,
        lostApplied: 0,
        lasting: true,
      };
    }
    case 'brokerRestart': {
      const started = Date.now();
      await ctx.broker.restart();
      return { detail: `back after ${Date.now() - started} ms`, lostApplied: 0, lasting: true };
    }
    case 'redeliveryStorm': {
      const storm = ctx.startStorm(n);
      await sleep(fault.durationMs ?? 10_000);
      await storm.stop();
      return {
        detail: `a second mapping redelivered ${storm.mapping.stats.recordsDelivered} records from the earliest offset in ${fault.durationMs} ms`,
        lostApplied: 0,
        lasting: true,
      };
    }
    default:
      return runRedisFault(fault, ctx);
  }
}

async function runRedisFault(fault: ScheduledFault, ctx: FaultContext): Promise<FaultOutcome> {
  const { node, replicas } = await shardNode(ctx);
  const before = await appliedOn(node, ctx.metaKey);
  const started = Date.now();
  let detail = '';
  let measureOn = node;
  switch (fault.kind) {
    case 'redisRestartAof':
      await node.stop();
      await node.start();
      detail = `node ${node.port} back from its AOF after ${Date.now() - started} ms`;
      break;
    case 'redisRestartEmpty':
      await node.stop();
      await rm(join(node.dir, 'appendonlydir'), { recursive: true, force: true });
      await rm(join(node.dir, 'dump.rdb'), { force: true });
      await node.start();
      detail = `node ${node.port} back empty after ${Date.now() - started} ms`;
      break;
    case 'redisRollback': {
      if (snapshotOf !== node) {
        detail = `skipped: the shard moved to node ${node.port} since its snapshot`;
        break;
      }
      await node.stop();
      await rm(join(node.dir, 'appendonlydir'), { recursive: true, force: true });
      await copyFile(join(node.dir, SNAPSHOT), join(node.dir, 'dump.rdb'));
      // Loaded from the RDB (an AOF would win over it), then the AOF is made again from it.
      await node.start({ args: ['--appendonly', 'no'] });
      await onNode(node, (c) => c.config('SET', 'appendonly', 'yes'));
      detail = `node ${node.port} restored from its snapshot after ${Date.now() - started} ms`;
      break;
    }
    case 'redisFreeze':
      node.freeze();
      await sleep(fault.durationMs ?? 3_000);
      node.thaw();
      detail = `node ${node.port} frozen (SIGSTOP) for ${fault.durationMs} ms`;
      break;
    case 'maxmemory': {
      const used = await onNode(node, async (c) =>
        Number(/used_memory:(\d+)/.exec(await c.info('memory'))?.[1] ?? 0),
      );
      await onNode(node, (c) => c.config('SET', 'maxmemory-policy', 'noeviction'));
      await onNode(node, (c) =>
        c.config('SET', 'maxmemory', String(Math.max(1, used - 1024 * 1024))),
      );
      await sleep(fault.durationMs ?? 5_000);
      await onNode(node, (c) => c.config('SET', 'maxmemory', '0'));
      detail = `node ${node.port}: maxmemory set below its ${(used / 2 ** 20).toFixed(0)} MiB for ${fault.durationMs} ms (writes refused), then lifted`;
      break;
    }
    case 'clusterFailover': {
      if (ctx.redis.kind !== 'cluster' || !replicas[0]) {
        detail = 'skipped: no replica';
        break;
      }
      const replica = replicas[0];
      await node.stop();
      await ctx.redis.cluster.waitForPromotion(replica, [node]);
      const promoted = Date.now() - started;
      measureOn = replica;
      const afterPromotion = await appliedOn(replica, ctx.metaKey);
      await ctx.redis.cluster.rejoin(node);
      detail = `master ${node.port} killed, replica ${replica.port} promoted after ${promoted} ms; the old master rejoined as its replica`;
      return {
        detail,
        lostApplied: Math.max(0, before - afterPromotion),
        lasting: true,
      };
    }
    case 'slotMigration': {
      if (ctx.redis.kind !== 'cluster') break;
      const cluster = ctx.redis.cluster;
      const masters: RedisServer[] = [];
      for (const candidate of cluster.nodes) {
        const role = await onNode(candidate, (c) => c.call('ROLE')).catch(() => ['down']);
        if ((role as string[])[0] === 'master' && candidate !== node) masters.push(candidate);
      }
      const to = masters[0] as RedisServer;
      const { slot, keys } = await cluster.migrateSlotOf(ctx.shardKey, to);
      measureOn = to;
      detail = `slot ${slot} (${keys} keys) moved from ${node.port} to ${to.port} in ${Date.now() - started} ms`;
      break;
    }
    default:
      break;
  }
  await settled(ctx);
  const after = await appliedOn(measureOn, ctx.metaKey);
  return { detail, lostApplied: Math.max(0, before - after), lasting: true };
}
