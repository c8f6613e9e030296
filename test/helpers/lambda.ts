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

/** One CloudWatch embedded metric format document: where its metrics go. */
export interface EmfDocument {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
  [field: string]: unknown;
}

/**
 * The EMF documents Powertools Metrics writes to stdout from now on, as CloudWatch Logs would
 * receive them from the function (CloudWatch user guide, "Specification: Embedded metric format",
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 * Only the EMF lines are kept out of the test's output; anything else is written as usual.
 */
export function captureEmf(): { documents: () => EmfDocument[]; restore: () => void } {
  const documents: EmfDocument[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: never[]) => {
    const text = String(chunk);
    if (text.startsWith('{"_aws":')) {
      for (const line of text.split('\n').filter(Boolean)) {
        documents.push(JSON.parse(line) as EmfDocument);
      }
      return true;
    }
    return write(chunk as string, ...rest);
  }) as typeof process.stdout.write;
  return { documents: () => documents, restore: () => (process.stdout.write = write) };
}
