import { readFile } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, MSKEvent } from 'aws-lambda';
import { vi } from 'vitest';
import type { SinkConfig } from '../../core/config/config.ts';
import type { RedisClient } from '../../core/redis/client.ts';
import { createApplyEventsHandler } from '../../functions/apply-events/create-handler.ts';

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

/**
 * apply-events as handler.ts composes it, on `config` and `redis`, with a silent logger and
 * metrics that publish nothing; the metrics are returned for a test to spy on what it adds.
 */
export function quietApplyEventsHandler(config: SinkConfig, redis: RedisClient) {
  const metrics = new Metrics({ namespace: 'seqguard-test', serviceName: 'apply-events' });
  vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
  const handler = createApplyEventsHandler({
    config,
    redis,
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics,
  });
  return { handler, metrics };
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
