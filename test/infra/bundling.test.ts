/**
 * The one test that bundles for real (esbuild, locally, as `cdk synth` does): each function is
 * one ES module with its handler, the Lua scripts inlined as text, and a source map.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthApp } from '../helpers/cdk.ts';

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
});
