import { readFile } from 'node:fs/promises';
import type { Context, MSKEvent } from 'aws-lambda';

/** A Lambda context as the runtime passes it (Powertools Logger reads its fields). */
export function lambdaContext(functionName = 'seqguard-apply-events'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/27/[$LATEST]abcdef',
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** A fixture from test/fixtures/events, as a fresh copy. */
export async function loadEvent(name: string): Promise<MSKEvent> {
  const url = new URL(`../fixtures/events/${name}.json`, import.meta.url);
  return JSON.parse(await readFile(url, 'utf8')) as MSKEvent;
}
