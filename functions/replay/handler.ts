/**
 * Entry of the replay Lambda, invoked on demand (or by an operator from the console or the CLI).
 * Configuration is read and checked once, at cold start, with the Redis credentials from Secrets
 * Manager when SEQGUARD_REDIS_AUTH_SECRET_ARN is set.
 */
import { openDriftConnections } from '../../core/index.ts';

import { createReplayHandler } from './create-handler.ts';

export const handler = createReplayHandler(
  await openDriftConnections(process.env, 'seqguard-replay'),
);
