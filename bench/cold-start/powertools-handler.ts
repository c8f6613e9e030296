/**
 * The cold start a Lambda function pays for the usual Powertools kit alone (bench/cold-start.ts):
 * Logger and Metrics wired with middy as the seqguard functions wire them
 * (functions/check-drift/create-handler.ts), one log line and one metric per invocation, and
 * nothing else; bundled by the house construct as the functions are. apply-events' cold start
 * is held to at most twice this one's (issue 24).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';

const logger = new Logger({ serviceName: 'seqguard-bench-baseline' });
const metrics = new Metrics({ namespace: 'seqguard-bench', serviceName: 'baseline' });

export const handler = middy()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler(async function baseline(): Promise<{ ok: true }> {
    metrics.addMetric('Invocations', MetricUnit.Count, 1);
    logger.info('invoked');
    return { ok: true };
  });
