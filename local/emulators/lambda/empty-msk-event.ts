/**
 * An MSK event without records, as the trigger would send it from a cluster: apply-events answers
 * it without touching Redis, so it warms a sandbox up (the pipeline's warm-up call, the cold-start
 * bench) or checks that a bundle loads.
 */
export const emptyMskEvent = {
  eventSource: 'aws:kafka',
  eventSourceArn:
    'arn:aws:kafka:us-east-1:000000000000:cluster/local/00000000-0000-0000-0000-000000000000-1',
  bootstrapServers: 'localhost:9098',
  records: {},
} as const;
