/**
 * The one test that bundles for real (esbuild, locally, as `cdk synth` does): each function is
 * one ES module with its handler, the Lua scripts inlined as text, and a source map.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveConfig, SeqguardPipeline } from '../../infra/index.ts';
import { existingClusters, synthApp, testEnv } from '../helpers/cdk.ts';

const luaSource = (file: string) =>
  readFileSync(new URL(`../../lua/${file}`, import.meta.url), 'utf8');

describe('function bundles', () => {
  beforeAll(async () => {
    // What cdk.json's app command runs first: the Lua scripts as a string module.
    await import('../../lua/bundle.ts');
  });

  it('inline the Lua scripts and export the handler, with no Docker', { timeout: 120_000 }, () => {
    const { app, stacks } = synthApp({}, { bundling: true });
    if (stacks.stage !== 'aws') throw new Error('expected the AWS stage');
    const assembly = app.synth();
    const template = Template.fromStack(stacks.pipeline);
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { Runtime: 'nodejs24.x' },
    });
    expect(Object.keys(functions)).toHaveLength(3);
    for (const fn of Object.values(functions)) {
      // The asset's S3 key is its hash; the cloud assembly keeps it as asset.<hash>/.
      const hash = (fn.Properties.Code.S3Key as string).replace(/\.zip$/, '');
      const dir = join(assembly.directory, `asset.${hash}`);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(fn.Properties.Handler).toBe('index.handler');
      expect(/export\s*\{[^}]*\bas handler\b[^}]*\}/.test(code), 'handler export').toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      // Each script's first line of prose (its contract), as text in the bundle; the bundle is
      // large, so a failure names the script rather than printing the code.
      for (const file of ['applyBatch-6.lua', 'deadLetter-2.lua', 'swapRebuilt-5.lua']) {
        const contract = luaSource(file).split('\n')[2]?.trim() ?? '';
        expect(contract.length, file).toBeGreaterThan(20);
        expect(code.includes(contract), `${file} inlined`).toBe(true);
      }
      expect(code.includes('#!lua'), 'the #!lua shebang').toBe(true);
    }
  });

  it("bundle a handler module of your own in place of the package's", { timeout: 120_000 }, () => {
    // Prepare: apply-events from a module that registers the capped counter.
    const app = new App({ outdir: mkdtempSync(join(inject('tempRoot'), 'cdk-')) });
    const stack = new Stack(app, 'Own', { env: testEnv });
    const own = fileURLToPath(
      new URL('../fixtures/handlers/own-mutations-apply-events.ts', import.meta.url),
    );
    // Act
    const pipeline = new SeqguardPipeline(stack, 'Seqguard', {
      config: resolveConfig({
        prefix: 'own',
        topics: ['game.events'],
        existing: existingClusters,
        paging: { none: 'a bundling test' },
      }),
      handlers: { 'apply-events': own },
    });
    const assembly = app.synth();
    // Assess: the capped counter's body is in apply-events' bundle, and only there.
    const bundle = (fn: (typeof pipeline.pipeline)['applyEvents']) => {
      const code = Template.fromStack(stack).toJSON().Resources[
        stack.getLogicalId(fn.function.node.defaultChild as CfnElement)
      ].Properties.Code.S3Key as string;
      return readFileSync(
        join(assembly.directory, `asset.${code.replace(/\.zip$/, '')}`, 'index.mjs'),
        'utf8',
      );
    };
    expect(bundle(pipeline.pipeline.applyEvents)).toContain('local function applyCappedIncr(');
    expect(bundle(pipeline.pipeline.checkDrift)).not.toContain('applyCappedIncr');
  });
});
