/**
 * Synthesizes the CDK app as `cdk synth` would (cdk.json's context, plus overrides), for the
 * infra tests. Bundling is off unless asked for: the assertions are on the templates, and one
 * test bundles for real.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
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
    outdir: mkdtempSync(join(tmpdir(), 'seqguard-cdk-')),
    context: {
      ...cdkJson.context,
      ...(options.bundling ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...context,
    },
  });
  const stacks = defineStacks(app, testEnv);
  return { app, stacks };
}
