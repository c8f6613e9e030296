/**
 * The Lambda "sandbox" of the local runtime: a child process that imports a handler module (its
 * module scope is the cold start) and serves invocations over IPC, one at a time.
 *
 *   SEQGUARD_HANDLER_MODULE  path of the module exporting `handler`
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { LocalRuntimeError } from '../errors.ts';

interface Invocation {
  id: number;
  event: unknown;
  timeoutMs: number;
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const modulePath = process.env.SEQGUARD_HANDLER_MODULE;
if (!modulePath) throw new LocalRuntimeError('SEQGUARD_HANDLER_MODULE is not set');

const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'seqguard-local';

function contextFor(invocation: Invocation): Context {
  const deadline = Date.now() + invocation.timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

function send(message: unknown, then?: () => void): void {
  process.send?.(message, undefined, {}, () => then?.());
}

// The emulator that forked this sandbox is gone (stopped, crashed, killed): so is the sandbox.
process.on('disconnect', () => process.exit(0));

try {
  const { handler } = (await import(pathToFileURL(modulePath).href)) as { handler: Handler };
  process.on('message', async (invocation: Invocation) => {
    try {
      const response = await handler(invocation.event, contextFor(invocation));
      send({ id: invocation.id, response: response ?? null });
    } catch (error) {
      const { name, message } = error as Error;
      send({ id: invocation.id, error: { errorType: name, errorMessage: message } });
    }
  });
  send({ ready: true });
} catch (error) {
  // A failed cold start (e.g. bad configuration): report it, then die as Lambda's init would,
  // whatever the module left running (a client retrying its connection, a timer).
  const { name, message } = error as Error;
  console.error(error);
  send({ initError: { errorType: name, errorMessage: message } }, () => process.exit(1));
}
