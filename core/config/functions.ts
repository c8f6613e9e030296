/**
 * The memory of each deployed function, in MiB: the CDK stacks give it to Lambda
 * (infra/constructs/pipeline.ts), and the local runtime and the bench run the handler with the
 * V8 heap that Lambda's Node.js runtime derives from it (local/emulators/lambda/node-flags.ts).
 */
export const functionMemoryMiB = {
  'apply-events': 1024,
  'check-drift': 512,
  replay: 1024,
} as const;
