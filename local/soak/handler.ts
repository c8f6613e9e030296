/**
 * The soak's apply-events function: a handler module of a user's own, as
 * docs/your-own-mutation.md ("Deploy it") shows. It is functions/apply-events/handler.ts with
 * the mutations the soak's traffic carries registered (`scenarioMutations`: the built-ins and the
 * capped counter, local/scenario/capped-counter.ts), through the factory of seqguard/functions.
 * The local runtime's sandbox imports it in place of the package's own entry.
 */
import { createRedisClient, loadSinkConfig, withRedisAuthSecret } from '../../core/index.ts';
import { createApplyEventsHandler } from '../../functions/index.ts';
import { scenarioMutations } from '../scenario/capped-counter.ts';

const config = loadSinkConfig(process.env, { mutations: scenarioMutations });

const redis = createRedisClient(await withRedisAuthSecret(config.redis));

export const handler = createApplyEventsHandler({ config, redis });
