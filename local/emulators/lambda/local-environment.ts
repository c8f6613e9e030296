/**
 * A deployed function's environment, made local: the variables the stack sets
 * (deployed-assets.ts reads them from the cloud assembly) with the ones that point at AWS
 * replaced by the local runtime's counterparts.
 */
import type { EnvironmentVariable } from '../../../core/index.ts';

/**
 * The stack's variables that point at AWS: the clusters (placeholders here) and how to reach
 * them. Locally each is dropped, and what the local runtime has in their place is given instead.
 */
export const clusterVariables = [
  'REDIS_URL',
  'SEQGUARD_REDIS_CLUSTER',
  'SEQGUARD_REDIS_AUTH_SECRET_ARN',
  'SEQGUARD_KAFKA_BOOTSTRAP',
  'SEQGUARD_MSK_CLUSTER_ARN',
] as const satisfies readonly EnvironmentVariable[];

/**
 * A function's environment for the local runtime: the variables the stack sets (settings such as
 * NODE_OPTIONS, the topics, the consumer group), without the ones that point at the clusters,
 * under `local`'s (the local Redis and broker, and any setting of the run).
 */
export function localEnvironment(
  stack: Record<string, string>,
  local: Record<string, string>,
): Record<string, string> {
  const settings = Object.entries(stack).filter(
    ([key]) => !(clusterVariables as readonly string[]).includes(key),
  );
  return { ...Object.fromEntries(settings), ...local };
}
