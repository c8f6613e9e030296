/**
 * What `cdk deploy` ships, run before AWS runs it (local/emulators/lambda/runtime-sandbox.ts):
 * each function's bundle from the synthesized cloud assembly, loaded by AWS's Node.js Runtime
 * Interface Client on Node 24 under AWS's Lambda Runtime Interface Emulator, invoked through the
 * Invoke API. apply-events' bundle applies a batch to the suite's real Redis exactly once; its
 * cold start reads at most 1 MB, without the Kafka client, which it loads at a ledger's first
 * hole (from the suite's broker); every bundle loads; a bundle broken on purpose fails its cold
 * start as Lambda reports it; and Lambda's semantics hold: the timeout, a crash mid-invocation
 * followed by a fresh cold start, a thrown error, and a REPORT line per invocation.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stateKey } from '../../core/index.ts';
import { FunctionInitError } from '../../local/emulators/errors.ts';
import {
  bundleSources,
  coldStartModules,
  type DeployedFunction,
  type DeployedFunctions,
  synthesizeFunctions,
} from '../../local/emulators/lambda/deployed-assets.ts';
import { emptyMskEvent } from '../../local/emulators/lambda/empty-msk-event.ts';
import { RuntimeSandbox } from '../../local/emulators/lambda/runtime-sandbox.ts';
import { lambdaRuntimeTools } from '../../local/emulators/lambda/runtime-tools.ts';
import { mskEvent, mskRecord, uniqueShard } from '../helpers/events.ts';
import { createTopic, produce, suiteKafkaEnv, uniqueTopic } from '../helpers/kafka.ts';
import { rawClient, redisEnv, suiteTarget } from '../helpers/redis.ts';

let functions: DeployedFunctions;
const sandboxes: RuntimeSandbox[] = [];

/**
 * The variables the stack sets, with the suite's Redis in place of ElastiCache and without the
 * stack's MSK brokers (this file runs no Kafka: the sink then trusts a partition's first batch
 * only from offset 0, docs/configuration.md).
 */
function localEnv(environment: Record<string, string>): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(environment).filter(([key]) => !key.startsWith('SEQGUARD_KAFKA_')),
  );
  return { ...env, ...redisEnv(), POWERTOOLS_METRICS_DISABLED: 'true' };
}

function sandboxOf(
  fn: { assetDir: string; handler: string; memoryMiB: number },
  env: Record<string, string>,
  timeoutMs = 30_000,
): RuntimeSandbox {
  const sandbox = new RuntimeSandbox({ ...fn, env, functionName: 'seqguard-test', timeoutMs });
  sandboxes.push(sandbox);
  return sandbox;
}

/** Each file of an asset folder, by its path in the folder, with its bytes. */
function assetFiles(dir: string): Record<string, string> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) =>
    e.isFile(),
  );
  return Object.fromEntries(
    files.map((e) => {
      const path = join(e.parentPath, e.name);
      return [relative(dir, path), readFileSync(path, 'base64')];
    }),
  );
}

/** A function of a few lines, bundled by hand: it sleeps, throws or answers as the event says. */
function fixtureFunction(): { assetDir: string; handler: string; memoryMiB: number } {
  const assetDir = mkdtempSync(join(inject('tempRoot'), 'fixture-fn-'));
  writeFileSync(
    join(assetDir, 'index.mjs'),
    `export const handler = async (event) => {
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  if (event.fail) throw new TypeError(event.fail);
  return { echo: event, pid: process.pid };
};
`,
  );
  return { assetDir, handler: 'index.handler', memoryMiB: 256 };
}

beforeAll(async () => {
  await lambdaRuntimeTools(); // built once per machine: about two minutes the first time
  functions = synthesizeFunctions({ outRoot: inject('tempRoot') });
}, 600_000);

afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.close()));
});

describe("the deployed bundles under Lambda's runtime emulator", () => {
  it('apply-events applies a batch once, and reports its cold start', async () => {
    // Prepare
    const fn = functions['apply-events'];
    const shard = uniqueShard('bundle');
    const sandbox = sandboxOf(fn, localEnv(fn.environment));
    const records = [0, 1, 2].map((offset) =>
      mskRecord({
        offset,
        value: {
          scope: 'p1',
          seq: offset + 1,
          shard,
          type: 'hincrby',
          data: { key: 'coins', field: 'p1', delta: 2 },
        },
      }),
    );
    // Act: the batch, then the same batch again (a redelivery)
    const first = await sandbox.invoke(mskEvent(records));
    const again = await sandbox.invoke(mskEvent(records));
    // Assess
    expect(first).toEqual({ kind: 'response', response: { batchItemFailures: [] } });
    expect(again).toEqual({ kind: 'response', response: { batchItemFailures: [] } });
    const redis = rawClient(suiteTarget());
    try {
      expect(await redis.hget(stateKey(shard, 'coins'), 'p1')).toBe('6');
    } finally {
      redis.disconnect();
    }
    expect(sandbox.coldStarts).toBe(1);
    expect(sandbox.reports).toHaveLength(2);
    expect(sandbox.reports[0]?.initDurationMs).toBeDefined();
    expect(sandbox.reports[1]?.initDurationMs).toBeUndefined();
    // The module's load is in the INIT REPORT line, not in the REPORT's Init Duration.
    expect(sandbox.initDurations[0]).toBeGreaterThan(1);
  }, 120_000);

  it('the pipelines run the asset cdk deploy ships for apply-events, to the byte', () => {
    // The suite's pipelines run apply-events bundled alone (deployedApplyEvents, in the global
    // setup); `functions` is the whole stack bundled, as `cdk synth` does.
    const alone = inject('deployedApplyEvents');
    const shipped = functions['apply-events'];
    expect(basename(alone.assetDir)).toBe(basename(shipped.assetDir));
    expect(assetFiles(alone.assetDir)).toEqual(assetFiles(shipped.assetDir));
    const settings = ({ handler, timeoutMs, memoryMiB, environment }: DeployedFunction) => ({
      handler,
      timeoutMs,
      memoryMiB,
      environment,
    });
    expect(settings(alone)).toEqual(settings(shipped));
    expect(alone.coldStartBytes).toBe(shipped.coldStartBytes);
  });

  it("apply-events' cold start reads at most 1 MB, and not the Kafka client", () => {
    // Issue 24: the bundle was 2.2 MB, most of it what a batch needs only at a ledger's hole.
    const fn = functions['apply-events'];
    expect(fn.bundleBytes).toBeLessThanOrEqual(1_000_000);
    expect(fn.coldStartBytes).toBeLessThanOrEqual(1_000_000);
    const coldSources = coldStartModules(join(fn.assetDir, 'index.mjs')).flatMap((module) =>
      bundleSources(fn, module),
    );
    expect(coldSources.some((source) => source.includes('/core/sink/apply-records.ts'))).toBe(true);
    const lazy =
      /node_modules\/(@platformatic\/kafka|@aws-sdk\/client-|aws-msk-iam-sasl-signer-js)\//;
    expect(coldSources.filter((source) => lazy.test(source))).toEqual([]);
  });

  it("apply-events loads its Kafka reads at a partition ledger's hole", async () => {
    // Prepare: partition 0's log holds offsets 0-2, partition 1's nothing; a batch of offset 2
    // in each, which no ledger precedes: the sink asks the log whether offsets 0-1 hold records.
    const fn = functions['apply-events'];
    const topic = uniqueTopic('bundle');
    await createTopic(topic, 2);
    const shard = uniqueShard('bundle-hole');
    const event = (partition: number) => ({
      scope: `p${partition}`,
      seq: 1,
      shard,
      type: 'hincrby',
      data: { key: 'coins', field: `p${partition}`, delta: 2 },
    });
    await produce(
      topic,
      [0, 1, 2].map(() => ({ partition: 0, value: JSON.stringify(event(0)) })),
    );
    const sandbox = sandboxOf(fn, { ...localEnv(fn.environment), ...suiteKafkaEnv() });
    // Act
    const outcome = await sandbox.invoke(
      mskEvent(
        [0, 1].map((partition) =>
          mskRecord({ topic, partition, offset: 2, value: event(partition) }),
        ),
      ),
    );
    // Assess: partition 0's do, and its batch waits for check-drift to replay them; partition
    // 1's hold none, and its batch is applied.
    expect(outcome).toEqual({
      kind: 'response',
      response: { batchItemFailures: [{ itemIdentifier: { partition: `${topic}-0`, offset: 2 } }] },
    });
    const redis = rawClient(suiteTarget());
    try {
      expect(await redis.hgetall(stateKey(shard, 'coins'))).toEqual({ p1: '2' });
    } finally {
      redis.disconnect();
    }
    expect(sandbox.coldStarts).toBe(1);
  }, 120_000);

  it('every bundle loads in the runtime client', async () => {
    for (const fn of Object.values(functions)) {
      const sandbox = sandboxOf(fn, localEnv(fn.environment));
      // Any answer but an init error: check-drift and replay refuse an MSK event, after loading.
      const outcome = await sandbox.invoke(emptyMskEvent);
      expect(outcome.kind, `${fn.name}: ${JSON.stringify(outcome)}`).not.toBe('initError');
      expect(sandbox.initDurations, fn.name).toHaveLength(1);
      await sandbox.close();
    }
  }, 120_000);

  it('a bundle broken on purpose fails its cold start, as Lambda reports it', async () => {
    // Prepare: apply-events' asset with its last lines cut off
    const fn = functions['apply-events'];
    const broken = mkdtempSync(join(inject('tempRoot'), 'broken-'));
    cpSync(fn.assetDir, broken, { recursive: true });
    writeFileSync(join(broken, 'index.mjs'), 'export const handler = ;\n');
    const missing = join(mkdtempSync(join(inject('tempRoot'), 'missing-')), 'empty');
    mkdirSync(missing);
    // Act / Assess
    for (const assetDir of [broken, missing]) {
      const sandbox = sandboxOf({ ...fn, assetDir }, localEnv(fn.environment));
      await expect(sandbox.warmUp(emptyMskEvent)).rejects.toBeInstanceOf(FunctionInitError);
      const outcome = await sandbox.invoke(emptyMskEvent);
      expect(outcome.kind).toBe('initError');
      if (outcome.kind === 'initError') expect(outcome.errorType).toMatch(/^Runtime\.|Error$/);
    }
  }, 60_000);

  it('keeps the timeout, a crash mid-invocation and a thrown error as Lambda does', async () => {
    const sandbox = sandboxOf(fixtureFunction(), {}, 1_000);
    const warm = await sandbox.invoke({ n: 1 });
    expect(warm.kind).toBe('response');
    const pid = sandbox.pid;
    expect(pid).toBeGreaterThan(0);
    // A thrown error: a function error; the runtime stays warm.
    expect(await sandbox.invoke({ fail: 'no such player' })).toEqual({
      kind: 'functionError',
      errorType: 'TypeError',
      errorMessage: 'no such player',
    });
    expect(sandbox.pid).toBe(pid);
    // The timeout (1 s): Sandbox.Timedout, then a fresh cold start.
    const timedOut = await sandbox.invoke({ sleepMs: 5_000 });
    expect(timedOut).toMatchObject({ kind: 'functionError', errorType: 'Sandbox.Timedout' });
    expect(await sandbox.invoke({ n: 2 })).toMatchObject({ kind: 'response' });
    expect(sandbox.coldStarts).toBe(2);
    // A crash mid-invocation (SIGKILL): Runtime.ExitError, then a fresh cold start.
    const crashed = sandbox.invoke({ sleepMs: 2_000 });
    await sleep(300);
    expect(sandbox.busy).toBe(true);
    expect(sandbox.kill()).toBe(true);
    expect(await crashed).toMatchObject({
      kind: 'functionError',
      errorType: 'Runtime.ExitError',
      errorMessage: expect.stringMatching(/^the runtime was killed \(SIGKILL\)/),
    });
    const after = await sandbox.invoke({ n: 3 });
    expect(after).toMatchObject({ kind: 'response' });
    expect(sandbox.coldStarts).toBe(3);
    expect(sandbox.pid).not.toBe(pid);
    // A crash before the runtime took the event: a function error too, never an init error
    // (which would stop the event source mapping), and the next invocation cold-starts.
    const early = sandbox.invoke({ n: 4 });
    expect(sandbox.kill()).toBe(true);
    expect(await early).toMatchObject({
      kind: 'functionError',
      errorMessage: expect.stringMatching(/^the runtime was killed \(SIGKILL\)/),
    });
    expect(await sandbox.invoke({ n: 5 })).toMatchObject({ kind: 'response' });
    // One REPORT per invocation that ended (a crash has none).
    expect(sandbox.reports.length).toBe(6);
  }, 60_000);
});
