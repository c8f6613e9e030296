/**
 * The failure Powertools idempotency leaves open and seqguard closes, on the suite's real
 * redis-server, each function in its own Lambda sandbox (local/emulators/lambda/handler-process.ts): the
 * function dies after an event's effect reached Redis and before it could record that it did.
 *
 * - Powertools (bench/powertools-idempotency.ts, the real package): the effect ran, the record
 *   stays INPROGRESS. A retry before the record's in-progress expiry is refused; a retry after
 *   it runs the effect again, as Powertools documents: "If a second invocation happens after this
 *   timestamp, and the record is marked as INPROGRESS, we will execute the invocation again as if
 *   it was in the EXPIRED state" (https://docs.aws.amazon.com/powertools/typescript/latest/features/idempotency/#lambda-timeouts).
 *   The expiry is the invocation's deadline (the remaining time of the registered Lambda
 *   context), so any crash or timeout after the effect ends the same way.
 * - seqguard: the guard's effect, cursor and checkpoint are one script execution. Killed after
 *   the EVALSHA replied and before the batch response, the batch comes again and every event is
 *   a duplicate: applied once.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { MSKEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { keyPatterns, shardKeys, stateKey } from '../../core/layout/keys.ts';
import {
  HandlerProcess,
  type InvokeOutcome,
} from '../../local/emulators/lambda/handler-process.ts';
import { mskEvent, mskRecord } from '../helpers/events.ts';
import { redisEnv, suiteRedis } from '../helpers/redis.ts';

// KEYS is refused to the app user (access-string.ts, -@dangerous): the admin lists keys.
const { raw, admin } = suiteRedis();
const fresh = (label: string) => `${label}${randomBytes(4).toString('hex')}`;
const sandboxes: HandlerProcess[] = [];
const prefixes: string[] = [];

/** The function's timeout: Powertools' in-progress expiry is this after an invocation starts. */
const functionTimeoutMs = 5_000;

const fixtureHandler = (name: string) =>
  fileURLToPath(new URL(`../fixtures/handlers/${name}.ts`, import.meta.url));

/**
 * The function's environment: the suite's Redis as a function reaches it (in the secure shape,
 * the app user whose password its cold start reads from the Secrets Manager), a key prefix of
 * its own, quiet logs.
 */
function functionEnv(keyPrefix: string, extra: Record<string, string> = {}) {
  return {
    ...redisEnv(),
    SEQGUARD_KEY_PREFIX: keyPrefix,
    SEQGUARD_FORMAT: 'envelope',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...extra,
  };
}

async function sandbox(name: string, env: Record<string, string>): Promise<HandlerProcess> {
  const handlerProcess = new HandlerProcess({
    module: fixtureHandler(name),
    env,
    timeoutMs: functionTimeoutMs,
    stdio: 'ignore',
  });
  sandboxes.push(handlerProcess);
  // Cold-started before the crash, so a retry runs at once, as a warm sandbox would take it.
  await handlerProcess.warmUp();
  return handlerProcess;
}

/** One batch of three events of one partition, offsets 0 to 2, in the envelope format. */
function batch(shard: string): MSKEvent {
  const topic = fresh('crash');
  const events = [
    { id: 'e1', scope: 'player-1', member: 'p-1', delta: 5 },
    { id: 'e2', scope: 'player-2', member: 'p-2', delta: 3 },
    { id: 'e3', scope: 'player-3', member: 'p-3', delta: 7 },
  ];
  return mskEvent(
    events.map((e, offset) =>
      mskRecord({
        topic,
        offset,
        key: e.scope,
        value: {
          id: e.id,
          scope: e.scope,
          seq: 1,
          shard,
          type: 'zincrby',
          data: { key: 'leaderboard', member: e.member, delta: e.delta },
        },
      }),
    ),
  );
}

async function scores(shard: string, keyPrefix: string): Promise<Record<string, number>> {
  const flat = await raw.zrange(stateKey(shard, 'leaderboard', keyPrefix), '0', '-1', 'WITHSCORES');
  const out: Record<string, number> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i] as string] = Number(flat[i + 1]);
  return out;
}

interface IdempotencyRecord {
  status: string;
  in_progress_expiration?: number;
}

/** Powertools' records under a prefix (its orphan locks left out). */
async function idempotencyRecords(prefix: string): Promise<IdempotencyRecord[]> {
  const keys = (await admin.keys(`${prefix}#*`)).filter((k) => !k.endsWith(':lock'));
  const values = await Promise.all(keys.map((k) => raw.get(k)));
  return values.map((v) => JSON.parse(v as string) as IdempotencyRecord);
}

const killed: InvokeOutcome = {
  kind: 'functionError',
  errorType: 'Runtime.ExitError',
  errorMessage: 'the handler process exited (SIGKILL)',
};

afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.close()));
  for (const pattern of prefixes.flatMap((p) => [...keyPatterns(p), `${p}#*`])) {
    const keys = await admin.keys(pattern);
    if (keys.length > 0) await admin.del(...keys);
  }
});

describe('a crash after the effect, before the function records it', () => {
  it('Powertools idempotency: after the in-progress expiry the retry applies the effect again', async () => {
    // Prepare
    const keyPrefix = fresh('pt');
    // Inside the app user's key patterns (`{<prefix>~…`), which the suite's Redis enforces.
    const idempotencyPrefix = `{${fresh('ptidem')}~powertools}`;
    prefixes.push(keyPrefix, idempotencyPrefix);
    const shard = 'game';
    const event = batch(shard);
    const env = functionEnv(keyPrefix, { TEST_IDEMPOTENCY_KEY_PREFIX: idempotencyPrefix });
    const crashing = await sandbox('powertools-crash-handler', {
      ...env,
      TEST_CRASH_AFTER_EFFECT_OF: 'e3',
    });
    const retrying = await sandbox('powertools-crash-handler', env);

    // Act: the function dies right after e3's effect
    const first = await crashing.invoke(event);

    // Assess: every effect landed, e3's record is left INPROGRESS
    expect(first).toEqual(killed);
    expect(await scores(shard, keyPrefix)).toEqual({ 'p-1': 5, 'p-2': 3, 'p-3': 7 });
    const records = await idempotencyRecords(idempotencyPrefix);
    expect(records.map((r) => r.status).sort()).toEqual(['COMPLETED', 'COMPLETED', 'INPROGRESS']);
    const inProgress = records.find((r) => r.status === 'INPROGRESS') as IdempotencyRecord;
    const expiry = inProgress.in_progress_expiration as number;
    expect(expiry).toBeGreaterThan(Date.now());

    // Act: the batch is retried before the in-progress expiry
    const early = await retrying.invoke(event);

    // Assess: Powertools refuses e3 (IdempotencyAlreadyInProgressError), nothing applied twice
    expect(Date.now()).toBeLessThan(expiry);
    expect(early).toEqual({
      kind: 'response',
      response: {
        batchItemFailures: [
          { itemIdentifier: { partition: Object.keys(event.records)[0], offset: 2 } },
        ],
      },
    });
    expect(await scores(shard, keyPrefix)).toEqual({ 'p-1': 5, 'p-2': 3, 'p-3': 7 });

    // Act: the batch is retried after the in-progress expiry
    await sleep(expiry - Date.now() + 100);
    const late = await retrying.invoke(event);

    // Assess: e1 and e2 are COMPLETED and skipped; e3's effect is applied a second time
    expect(late).toEqual({ kind: 'response', response: { batchItemFailures: [] } });
    expect(await scores(shard, keyPrefix)).toEqual({ 'p-1': 5, 'p-2': 3, 'p-3': 14 });
    expect(await raw.xlen(shardKeys(shard, keyPrefix).stream)).toBe(4);
    expect((await idempotencyRecords(idempotencyPrefix)).map((r) => r.status)).toEqual([
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
    ]);
  });

  it('seqguard: killed after the guard’s EVALSHA and before the batch response, the redelivered batch is applied once', async () => {
    // Prepare
    const keyPrefix = fresh('sg');
    prefixes.push(keyPrefix);
    const shard = 'game';
    const event = batch(shard);
    const env = functionEnv(keyPrefix);
    const crashing = await sandbox('seqguard-crash-handler', {
      ...env,
      TEST_CRASH_AFTER_APPLY_BATCH: '1',
    });
    const retrying = await sandbox('seqguard-crash-handler', env);

    // Act: the function dies as soon as the guard's script has replied
    const first = await crashing.invoke(event);

    // Assess: the chunk's effects landed
    expect(first).toEqual(killed);
    expect(await scores(shard, keyPrefix)).toEqual({ 'p-1': 5, 'p-2': 3, 'p-3': 7 });

    // Act: the batch is redelivered at once, and again after the wait Powertools needed
    const redelivered = await retrying.invoke(event);
    await sleep(functionTimeoutMs + 100);
    const again = await retrying.invoke(event);

    // Assess: every event is a duplicate to the guard; applied once
    expect(redelivered).toEqual({ kind: 'response', response: { batchItemFailures: [] } });
    expect(again).toEqual({ kind: 'response', response: { batchItemFailures: [] } });
    expect(await scores(shard, keyPrefix)).toEqual({ 'p-1': 5, 'p-2': 3, 'p-3': 7 });
    expect(await raw.xlen(shardKeys(shard, keyPrefix).stream)).toBe(3);
  });
});
