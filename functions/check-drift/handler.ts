/**
 * Entry of the check-drift Lambda (EventBridge Scheduler, every minute). Configuration is read
 * and checked once, at cold start, with the Redis credentials from Secrets Manager if configured.
 */
import { loadThresholds, openDriftConnections } from '../../core/index.ts';

import { createCheckDriftHandler } from './create-handler.ts';

export const handler = createCheckDriftHandler({
  ...(await openDriftConnections(process.env, 'seqguard-check-drift')),
  thresholds: loadThresholds(process.env),
});
