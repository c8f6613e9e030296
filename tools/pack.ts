/**
 * Builds the package users install, `npm run pack`: the core (`seqguard`), the producer
 * (`seqguard/producer`) and the CDK constructs with the Lambda entries they bundle
 * (`seqguard/cdk`), compiled to JavaScript with type declarations (tsconfig.build.json), the Lua
 * bundle inside, and a package.json of its own: this repository's names the entries as their
 * TypeScript source (`exports`, which also lets the repository import itself as `seqguard`), and
 * has the scripts, the dev tools and the Node 24 binary that its own scripts run on, none of which
 * a user's project should get.
 *
 *   npm run pack            -> .cache/package/ and .cache/seqguard-<version>.tgz
 *
 * Prints the tarball's path on its last line.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '..');
const cacheDir = join(repoRoot, '.cache');
const packageDir = join(cacheDir, 'package');

/** What `cdk synth` with the constructs needs in the user's project; a core user needs none. */
const cdkPeers = ['aws-cdk-lib', 'constructs', 'cdk-nag', 'esbuild'] as const;

interface Manifest {
  name: string;
  version: string;
  description: string;
  license: string;
  engines: Record<string, string>;
  /** The public entries, as this repository's source: `./core/index.ts`. */
  exports: Record<string, string>;
  /** Private imports (`#kafka/has-records`): modules the functions load at first use. */
  imports: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

const repoManifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Manifest;

/**
 * The public entries, from this repository's `exports`: each subpath, and its module without
 * the extension (`core/index`), which the package holds compiled (`core/index.js`, `.d.ts`).
 */
export const packageEntries: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(repoManifest.exports).map(([subpath, source]) => [
    subpath,
    source.replace(/^\.\//, '').replace(/\.ts$/, ''),
  ]),
);

function manifestOf(repo: Manifest) {
  const exports: Record<string, unknown> = {};
  for (const [subpath, module] of Object.entries(packageEntries)) {
    exports[subpath] = { types: `./${module}.d.ts`, default: `./${module}.js` };
  }
  exports['./package.json'] = './package.json';
  return {
    name: repo.name,
    version: repo.version,
    description: repo.description,
    license: repo.license,
    type: 'module',
    engines: repo.engines,
    exports,
    // The same private imports, compiled: apply-events' asset holds each in a module of its own
    // (infra/constructs/function-code.ts).
    imports: Object.fromEntries(
      Object.entries(repo.imports).map(([name, source]) => [name, source.replace(/\.ts$/, '.js')]),
    ),
    // Only the Lambda entries run code when loaded; a bundler may drop any other module unused.
    sideEffects: ['./functions/*/handler.js'],
    dependencies: {
      ...repo.dependencies,
      // The public types name the MSK event's record types (MSKEvent, MSKRecord).
      '@types/aws-lambda': required(repo.devDependencies, '@types/aws-lambda'),
    },
    peerDependencies: Object.fromEntries(
      cdkPeers.map((name) => [name, required(repo.devDependencies, name)]),
    ),
    peerDependenciesMeta: Object.fromEntries(cdkPeers.map((name) => [name, { optional: true }])),
  };
}

function required(versions: Record<string, string>, name: string): string {
  const version = versions[name];
  if (version === undefined) throw new Error(`package.json: ${name} is missing`);
  // A pinned dev tool becomes a range a user's project can meet.
  return /^\d/.test(version) ? `^${version}` : version;
}

function run(command: string, args: string[], cwd = repoRoot): string {
  return execFileSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

export function pack(): string {
  const repo = repoManifest;
  rmSync(packageDir, { recursive: true, force: true });
  run(process.execPath, [join(repoRoot, 'lua', 'bundle.ts')]);
  run(process.execPath, [
    join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(repoRoot, 'tsconfig.build.json'),
    '--outDir',
    packageDir,
  ]);
  writeFileSync(join(packageDir, 'package.json'), `${JSON.stringify(manifestOf(repo), null, 2)}\n`);
  for (const file of ['README.md', 'CHANGELOG.md', 'LICENSE']) {
    try {
      copyFileSync(join(repoRoot, file), join(packageDir, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const name = run(npm, ['pack', '--silent', '--pack-destination', cacheDir], packageDir).trim();
  return join(cacheDir, name.split('\n').at(-1) ?? name);
}

if (import.meta.main) console.log(pack());
