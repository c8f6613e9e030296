/**
 * Synthesizes the CDK app as `cdk synth` would (cdk.json's context, plus overrides), for the
 * infra tests. Bundling is off unless asked for: the assertions are on the templates, and one
 * test bundles for real.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { inject } from 'vitest';
import { defineStacks, type SeqguardStacks } from '../../infra/seqguard-app.ts';

export const testEnv = { account: '123456789012', region: 'eu-west-1' } as const;

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

export function synthApp(
  context: Record<string, unknown> = {},
  options: { bundling?: boolean } = {},
): { app: App; stacks: SeqguardStacks } {
  const app = new App({
    // Under the run's temp folder, which the global teardown removes.
    outdir: mkdtempSync(join(inject('tempRoot'), 'cdk-')),
    context: {
      ...cdkJson.context,
      ...(options.bundling ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...context,
    },
  });
  const stacks = defineStacks(app, testEnv);
  return { app, stacks };
}
