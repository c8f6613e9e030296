/**
 * The one test that bundles for real (esbuild, locally, as `cdk synth` does): each function is
 * one ES module with its handler, the Lua scripts inlined as text, and a source map; and the
 * assets are the same, to the byte, whichever checkout and cdk.out they are synthesized from.
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveConfig, SeqguardPipeline } from '../../infra/index.ts';
import { existingClusters, synthApp, testEnv } from '../helpers/cdk.ts';
import { repoRoot } from '../helpers/repo-root.ts';

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

/**
 * A checkout of the repository at `dir`: what `cdk synth` reads, and its own node_modules, hard
 * links to this one's files (a symlink would resolve to where this one's are, outside it, as no
 * checkout's is).
 */
function checkoutAt(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const path of ['package.json', 'cdk.json', 'core', 'functions', 'infra', 'lua'])
    cpSync(join(repoRoot, path), join(dir, path), { recursive: true });
  linkTree(realpathSync(join(repoRoot, 'node_modules')), join(dir, 'node_modules'));
  return dir;
}

function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const [source, target] = [join(from, entry.name), join(to, entry.name)];
    if (entry.isDirectory()) linkTree(source, target);
    else if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else linkSync(source, target);
  }
}

/** `cdk synth` of `checkout` into `outdir`: the app command's app, with cdk.json's context. */
async function synthesizeAt(checkout: string, outdir: string): Promise<string> {
  const { context } = JSON.parse(readFileSync(join(checkout, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  await promisify(execFile)(process.execPath, ['infra/app.ts'], {
    cwd: checkout,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      // A region whose default zones MSK takes (the suite's AWS_REGION is us-east-1, where the
      // data stack needs availabilityZones: infra/constructs/msk-zones.ts).
      CDK_DEFAULT_REGION: 'eu-west-1',
      // The paging decision every synth needs (infra/config.ts), as `-c paging=…` gives it.
      CDK_CONTEXT_JSON: JSON.stringify({ ...context, paging: { none: 'a bundling test' } }),
    },
  });
  return outdir;
}

/** Each function's asset hash (its S3 key) in the pipeline stack, and the asset's files. */
function functionAssets(outdir: string): Map<string, Record<string, string>> {
  const template = JSON.parse(
    readFileSync(join(outdir, 'seqguard-pipeline.template.json'), 'utf8'),
  ) as { Resources: Record<string, { Type: string; Properties: { Code?: { S3Key: string } } }> };
  const assets = new Map<string, Record<string, string>>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function' || !resource.Properties.Code) continue;
    const hash = resource.Properties.Code.S3Key.replace(/\.zip$/, '');
    const dir = join(outdir, `asset.${hash}`);
    const files = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
    assets.set(
      hash,
      Object.fromEntries(
        files.map((file) => [file.slice(dir.length + 1), readFileSync(file, 'base64')]),
      ),
    );
  }
  return assets;
}

describe('function assets', () => {
  it('are the same, to the byte, from any checkout and cdk.out', { timeout: 300_000 }, async () => {
    // Prepare: two checkouts at different paths and depths (a CI runner's, a laptop's), each
    // synthesized into a cdk.out elsewhere, again at different depths.
    const root = mkdtempSync(join(inject('tempRoot'), 'checkouts-'));
    const checkouts = [
      checkoutAt(join(root, 'runner', 'seqguard')),
      checkoutAt(join(root, 'home', 'dev', 'src', 'seqguard-copy')),
    ];
    // Act
    const outdirs = await Promise.all([
      synthesizeAt(checkouts[0] as string, join(root, 'out')),
      synthesizeAt(checkouts[1] as string, join(root, 'build', 'deep', 'cdk.out')),
    ]);
    // Assess: the same asset hashes (S3 keys), and the same files in them.
    const [first, second] = outdirs.map(functionAssets) as [
      ReturnType<typeof functionAssets>,
      ReturnType<typeof functionAssets>,
    ];
    expect(first.size).toBe(3);
    expect([...second.keys()].sort()).toEqual([...first.keys()].sort());
    for (const [hash, files] of first) {
      expect(Object.keys(files)).toContain('index.mjs.map');
      expect(second.get(hash), `asset.${hash}`).toEqual(files);
    }
  });
});
