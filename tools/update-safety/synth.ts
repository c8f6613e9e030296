/**
 * Synthesizes the CDK app's templates for a context, as `cdk synth` would (cdk.json's context
 * plus the given keys) but without bundling the functions: the update-safety check compares
 * templates, and an asset's hash is all bundling would add to them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { defineStacks } from '../../infra/seqguard-app.ts';

export type CfnTemplate = {
  Resources?: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
  [key: string]: unknown;
};
export type CfnResource = {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Metadata?: unknown;
  [key: string]: unknown;
};

/** Templates by stack name. */
export type StackTemplates = Record<string, CfnTemplate>;

/** A fixed account and region, so that templates differ only by their settings. */
export const synthEnv = { account: '123456789012', region: 'eu-west-1' } as const;

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

/** The context an App gets from cdk.json and `-c`, with bundling off. */
export function synthContext(context: Record<string, unknown>): Record<string, unknown> {
  return { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context };
}

/** The templates of every stack the app defines for `context`. */
export function synthTemplates(context: Record<string, unknown>): StackTemplates {
  const outdir = mkdtempSync(join(tmpdir(), 'seqguard-update-safety-'));
  try {
    const app = new App({ outdir, context: synthContext(context) });
    defineStacks(app, synthEnv);
    return templatesOf(app);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The synthesized templates of an App's stacks, by stack name. */
export function templatesOf(app: App): StackTemplates {
  const assembly = app.synth();
  const templates: StackTemplates = {};
  for (const stack of assembly.stacks) templates[stack.stackName] = stack.template as CfnTemplate;
  return templates;
}
