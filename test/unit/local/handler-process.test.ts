/**
 * The local Lambda sandbox: one child process serving invocations, killed and cold-started
 * again like Lambda's, with timeouts and errors as function errors.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FunctionInitError } from '../../../local/emulators/errors.ts';
import { HandlerProcess } from '../../../local/emulators/lambda/handler-process.ts';
import { lambdaNodeFlags } from '../../../local/emulators/lambda/node-flags.ts';

const echo = fileURLToPath(new URL('../../fixtures/handlers/echo-handler.ts', import.meta.url));
const broken = fileURLToPath(new URL('../../fixtures/handlers/broken-handler.ts', import.meta.url));
const sandboxes: HandlerProcess[] = [];
afterEach(async () => {
  for (const s of sandboxes.splice(0)) await s.close();
});

function sandbox(timeoutMs = 5_000, module = echo): HandlerProcess {
  const s = new HandlerProcess({ module, env: {}, timeoutMs, stdio: 'ignore' });
  sandboxes.push(s);
  return s;
}

describe('HandlerProcess', () => {
  it("runs the function with the V8 heap Lambda's runtime gives its memory", async () => {
    const s = new HandlerProcess({ module: echo, env: {}, timeoutMs: 5_000, memoryMiB: 1024 });
    sandboxes.push(s);
    const given = (await s.invoke({ action: 'heap' })) as {
      response: { heapLimitMiB: number; execArgv: string[]; memorySize: string };
    };
    // Lambda's bootstrap: semi space 1024 / 10 / 2 = 51 MiB, old space 1024 - 102 = 922 MiB.
    expect(given.response.execArgv).toEqual(
      expect.arrayContaining(['--max-semi-space-size=51', '--max-old-space-size=922']),
    );
    expect(given.response.memorySize).toBe('1024');
    // V8's limit is the old space and the young generation's three semi spaces, and a little.
    expect(given.response.heapLimitMiB).toBeGreaterThanOrEqual(922 + 3 * 51);
    expect(given.response.heapLimitMiB).toBeLessThan(1024 + 3 * 51);
    // Without a memory size the child keeps Node's defaults.
    const plain = (await sandbox().invoke({ action: 'heap' })) as {
      response: { heapLimitMiB: number; memorySize: string | null };
    };
    expect(plain.response.memorySize).toBeNull();
    expect(plain.response.heapLimitMiB).not.toBe(given.response.heapLimitMiB);
    // Lambda's range: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
    expect(() => lambdaNodeFlags(64)).toThrow('128 to 10,240 MiB');
    expect(lambdaNodeFlags(128)).toEqual(['--max-semi-space-size=6', '--max-old-space-size=116']);
  });

  it('serves invocations from one warm process', async () => {
    const s = sandbox();
    const first = await s.invoke({ value: 1 });
    const second = await s.invoke({ value: 2 });
    expect(first).toMatchObject({ kind: 'response', response: { echoed: 1 } });
    expect(second).toMatchObject({ kind: 'response', response: { echoed: 2 } });
    expect(s.coldStarts).toBe(1);
  });

  it('cold-starts a new process for the invocation right after a kill', async () => {
    const s = sandbox();
    const before = await s.invoke({ value: 'a' });
    expect(s.kill()).toBe(true);
    // No wait for the old process to exit: the next invocation must not reach it.
    const after = await s.invoke({ value: 'b' });
    expect(after).toMatchObject({ kind: 'response', response: { echoed: 'b' } });
    expect((after as { response: { pid: number } }).response.pid).not.toBe(
      (before as { response: { pid: number } }).response.pid,
    );
    expect(s.coldStarts).toBe(2);
  });

  it('reports a crash during an invocation, a thrown error and a timeout as function errors', async () => {
    const s = sandbox(500);
    expect(await s.invoke({ action: 'exit' })).toMatchObject({
      kind: 'functionError',
      errorType: 'Runtime.ExitError',
    });
    expect(await s.invoke({ action: 'throw' })).toMatchObject({
      kind: 'functionError',
      errorType: 'TypeError',
    });
    expect(await s.invoke({ action: 'hang' })).toMatchObject({
      kind: 'functionError',
      errorType: 'Sandbox.Timedout',
    });
    expect(await s.invoke({ value: 'fine' })).toMatchObject({
      kind: 'response',
      response: { echoed: 'fine' },
    });
  });

  it('reports a failed cold start as an init error, with the function’s own error and stderr', async () => {
    const s = sandbox(5_000, broken);
    const outcome = await s.invoke({ value: 1 });
    expect(outcome).toMatchObject({
      kind: 'initError',
      errorType: 'TypeError',
      errorMessage: 'broken at import',
    });
    expect((outcome as { output: string }).output).toContain('about to fail at import');
    await expect(s.warmUp()).rejects.toThrow(FunctionInitError);
    await expect(s.warmUp()).rejects.toThrow(/could not start \(TypeError\): broken at import/);
  });

  it('reports a kill during the cold start as a function error, not an init error', async () => {
    const s = sandbox();
    const outcome = s.invoke({ value: 1 });
    await sleep(20);
    expect(s.kill()).toBe(true);
    expect(await outcome).toMatchObject({ kind: 'functionError', errorType: 'Runtime.ExitError' });
    expect(await s.invoke({ value: 2 })).toMatchObject({ kind: 'response' });
  });
});
