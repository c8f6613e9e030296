/**
 * The Kafka trigger's defaults (the event source mapping's batching, retries and pollers): the
 * CDK settings (infra/config.ts, `eventSource`) and the local event source mapping emulator take
 * them from here.
 */
export const triggerDefaults = {
  batchSize: 500,
  /** 0 in low-latency mode. */
  maxBatchingWindowSeconds: 1,
  retryAttempts: 10,
  maxRecordAgeSeconds: 86_400,
  minimumPollers: 1,
  /** `minimumPollers` in low-latency mode. */
  maximumPollers: 3,
  startingPosition: 'TRIM_HORIZON',
} as const;
