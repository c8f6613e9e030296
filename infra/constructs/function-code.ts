/**
 * A function's code, as `cdk synth` bundles it: esbuild's API, run locally (a devDependency here,
 * a peer dependency of the package), never Docker, into an asset of ES modules:
 * - `index.mjs`, the handler and what its cold start loads;
 * - `chunks/`, what the handler imports at first use (the AWS SDK's Secrets Manager and MSK
 *   clients), split off by esbuild, and the little the two share;
 * - for a function that asks for it (apply-events), a module for each of the package's private
 *   imports (package.json "imports": the sink's Kafka reads, `#kafka/has-records`, in
 *   `kafka/has-records.mjs`), bundled on its own, and a package.json that maps each import to
 *   its module, where Node looks for it at run time.
 *
 * A private import is bundled apart rather than split off like the SDK clients because the core's
 * public entry (core/index.ts) re-exports the modules it is made of (the Kafka client): esbuild's
 * code splitting puts every module an entry reaches into chunks the entry imports, used or not
 * (https://github.com/evanw/esbuild/issues/3704), and apply-events' cold start would load a Kafka
 * client it needs only for a ledger's hole. The few modules both use are in both, the errors
 * too: the sink reports an error thrown there as it is, without asking its class. check-drift and
 * replay read Kafka on every run: their bundles keep it, and the private imports with it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { AssetHashType, DockerImage, type ILocalBundling } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { BuildOptions } from 'esbuild';

/**
 * What every build shares: ES modules for Node 24 (the handlers await the Redis secret at cold
 * start, at the top level), minified, with source maps.
 */
const buildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  mainFields: ['module', 'main'],
  outExtension: { '.js': '.mjs' },
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // CommonJS dependencies (ioredis) still call require().
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  // Everything is in the asset, the AWS SDK too (no external modules): the nodejs24.x runtime
  // carries an SDK v3 of its own choosing, without every package a dependency needs (the MSK IAM
  // signer's @aws-sdk/util-format-url), and the asset is what the local runtime loads as Lambda
  // does (test/integration/deployed-bundle.test.ts). The Kafka client's compression and CRC32C
  // module reads its WebAssembly from a file beside it (../dist/native.wasm), which a bundle does
  // not carry: its "bundled" entry inlines the same module.
  alias: { '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled' },
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** Where a private import's module goes in the asset: `#kafka/has-records` → `kafka/has-records`. */
const moduleName = (specifier: string) => specifier.replace(/^#/, '');

/**
 * Where esbuild is told the bundle goes: a folder in the package root, never written. A source
 * map names its sources relative to its own folder, and a chunk's hash covers its source map:
 * told CDK's staging folder (under cdk.out, wherever that is), the bundle's bytes, and so the
 * asset's hash, would depend on where the checkout and cdk.out are, and a deploy from another
 * checkout (a CI runner, a colleague's laptop) would update every function, and publish a new
 * version of one with provisioned concurrency. Relative to a folder of the package root, they
 * depend only on the package's files.
 */
const virtualOutdir = (packageRoot: string) => join(packageRoot, '.seqguard-asset');

/**
 * Bundles `entry` into `outputDir`, with `imports` (private imports, name → module) bundled
 * apart: in memory, as if into the package root's virtual folder, then written out as they are.
 */
function bundle(
  entry: string,
  imports: Readonly<Record<string, string>>,
  packageRoot: string,
  outputDir: string,
): void {
  const esbuild = loadEsbuild();
  const external = Object.keys(imports);
  const outdir = virtualOutdir(packageRoot);
  // Paths esbuild reports or hashes are relative to absWorkingDir (the process's cwd otherwise).
  const inMemory = { ...buildOptions, absWorkingDir: packageRoot, outdir, write: false } as const;
  const outputs = [
    esbuild.buildSync({
      ...inMemory,
      entryPoints: { index: entry },
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      external,
    }),
    ...Object.entries(imports).map(([specifier, module]) =>
      esbuild.buildSync({
        ...inMemory,
        entryPoints: { [moduleName(specifier)]: module },
        external,
      }),
    ),
  ].flatMap((result) => result.outputFiles);
  for (const file of outputs) {
    const target = join(outputDir, relative(outdir, file.path));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.contents);
  }
  if (external.length === 0) return;
  const mapped = Object.fromEntries(external.map((s) => [s, `./${moduleName(s)}.mjs`]));
  writeFileSync(
    join(outputDir, 'package.json'),
    `${JSON.stringify({ imports: mapped }, null, 2)}\n`,
  );
}

/** esbuild, from the project: loaded when a stack is bundled, not when the constructs are. */
function loadEsbuild(): typeof import('esbuild') {
  try {
    return createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  } catch (error) {
    throw new Error(
      'seqguard/cdk bundles the functions with esbuild: add it to your devDependencies',
      { cause: error },
    );
  }
}

/**
 * The local bundling of one entry. The entry is a field, not only in a closure: CDK tells
 * bundlings apart by their options serialized, and gives two that serialize alike one asset.
 */
class EsbuildBundling implements ILocalBundling {
  readonly entry: string;
  readonly imports: Readonly<Record<string, string>>;
  readonly packageRoot: string;

  constructor(entry: string, imports: Readonly<Record<string, string>>, packageRoot: string) {
    this.entry = entry;
    this.imports = imports;
    this.packageRoot = packageRoot;
  }

  tryBundle(outputDir: string): boolean {
    bundle(this.entry, this.imports, this.packageRoot, outputDir);
    return true;
  }
}

/**
 * The code of a function whose handler module is `entry`. `packageRoot` holds the package.json
 * of the private imports: this repository's, or the installed package's. `privateImportsApart`:
 * give each private import a module of its own rather than a chunk of the handler's bundle.
 */
export function functionCode(
  entry: string,
  packageRoot: string,
  { privateImportsApart }: { privateImportsApart: boolean },
): lambda.Code {
  const manifest = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
    imports?: Record<string, string>;
  };
  const imports = privateImportsApart ? Object.entries(manifest.imports ?? {}) : [];
  const modules = Object.fromEntries(
    imports.map(([name, module]) => [name, join(packageRoot, module)]),
  );
  return lambda.Code.fromAsset(packageRoot, {
    // The asset's hash is its contents', as the bundle comes out.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // CDK asks for an image to bundle in; the local bundling never falls back to it.
      image: DockerImage.fromRegistry('unused'),
      local: new EsbuildBundling(entry, modules, packageRoot),
    },
  });
}
