/**
 * The soak's apply-events function: functions/apply-events/handler.ts, with the mutations the
 * soak's traffic carries registered (`scenarioMutations`: the built-ins and the capped counter,
 * local/scenario/capped-counter.ts), as a user with a mutation of their own composes their
 * handler. The local runtime's sandbox imports it in place of the deployed entry.
 */
import { createRedisClient, loadSinkConfig, withRedisAuthSecret } from '../../core/index.ts';
import { createApplyEventsHandler } from '../../functions/apply-events/create-handler.ts';
import { scenarioMutations } from '../scenario/capped-counter.ts';

const config = loadSinkConfig(process.env, { mutations: scenarioMutations });

const redis = createRedisClient(await withRedisAuthSecret(config.redis));

export const handler = createApplyEventsHandler({ config, redis });
