/**
 * What `cdk deploy` uploads for each function, synthesized here as `cdk synth` does (esbuild,
 * locally): the pipeline stack of a deployment into existing clusters (placeholders: the stack's
 * settings do not change the bundles), read back from the cloud assembly. Each function's asset
 * folder (asset.<hash>, the S3 key of its code), its handler string, timeout, memory and the
 * environment variables the stack sets, for the local runtime to run the bundle with local
 * endpoints in place of AWS's (runtime-sandbox.ts). A bundle's size is told two ways: index.mjs
 * alone, and what a cold start reads (index.mjs and the chunks it imports, not those it loads at
 * first use).
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import {
  resolveConfig,
  type SeqguardFunctionName,
  type SeqguardHandlerEntries,
  SeqguardPipeline,
} from '../../../infra/index.ts';

export interface DeployedFunction {
  name: SeqguardFunctionName;
  /** The cloud assembly the function was synthesized into (cdk.out's counterpart). */
  assembly: string;
  /** The asset folder: the bundle (index.mjs) and its source map. */
  assetDir: string;
  /** The bundle's size in bytes (index.mjs). */
  bundleBytes: number;
  /** What its cold start reads, in bytes: index.mjs and the chunks it imports statically. */
  coldStartBytes: number;
  handler: string;
  timeoutMs: number;
  memoryMiB: number;
  /** The variables the stack sets whose values are plain text (not CloudFormation references). */
  environment: Record<string, string>;
}

export type DeployedFunctions = Record<SeqguardFunctionName, DeployedFunction>;

/** Where the clusters would be: any well-formed values, the bundles do not depend on them. */
const placeholderClusters = {
  vpcId: 'vpc-00000000000000000',
  availabilityZones: ['us-east-1a', 'us-east-1b'],
  subnetIds: ['subnet-00000000000000001', 'subnet-00000000000000002'],
  kafka: {
    clusterArn:
      'arn:aws:kafka:us-east-1:000000000000:cluster/local/00000000-0000-0000-0000-000000000000-1',
    bootstrapBrokers: 'localhost:9098',
    securityGroupIds: ['sg-00000000000000001'],
    subnetIds: ['subnet-00000000000000001', 'subnet-00000000000000002'],
  },
  redis: {
    url: 'rediss://localhost:6380',
    cluster: false,
    authSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:local/redis-AbCdEf',
    securityGroupId: 'sg-00000000000000002',
  },
};

const names: Record<string, SeqguardFunctionName> = {
  'apply-events': 'apply-events',
  'check-drift': 'check-drift',
  replay: 'replay',
};

/**
 * Synthesizes the functions (into a folder of its own under `outRoot`, the OS's temp folder by
 * default) and describes each. `handlers`: handler modules of your own, as the stack takes them.
 */
export function synthesizeFunctions(
  options: { handlers?: SeqguardHandlerEntries; outRoot?: string } = {},
): DeployedFunctions {
  // Bundling runs esbuild through npx, which keeps Node's compile cache in the temp folder (and
  // would leave it in the caller's): none for the tools the synth spawns.
  const compileCache = process.env.NODE_DISABLE_COMPILE_CACHE;
  process.env.NODE_DISABLE_COMPILE_CACHE = '1';
  try {
    return synthesize(options);
  } finally {
    if (compileCache === undefined) delete process.env.NODE_DISABLE_COMPILE_CACHE;
    else process.env.NODE_DISABLE_COMPILE_CACHE = compileCache;
  }
}

function synthesize(options: {
  handlers?: SeqguardHandlerEntries;
  outRoot?: string;
}): DeployedFunctions {
  const outdir = mkdtempSync(join(options.outRoot ?? tmpdir(), 'seqguard-assembly-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'Local', { env: { account: '000000000000', region: 'us-east-1' } });
  new SeqguardPipeline(stack, 'Seqguard', {
    config: resolveConfig({
      prefix: 'local',
      topics: ['events'],
      existing: placeholderClusters,
      // Only the function's bundle and settings are used: no alarm is deployed from here.
      paging: { none: 'the local runtime deploys no alarms' },
    }),
    ...(options.handlers ? { handlers: options.handlers } : {}),
  });
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const functions: Partial<DeployedFunctions> = {};
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const props = resource.Properties as {
      FunctionName: string;
      Handler: string;
      Timeout: number;
      MemorySize: number;
      Code: { S3Key: string };
      Environment?: { Variables?: Record<string, unknown> };
    };
    const name = names[props.FunctionName.replace(/^local-/, '')];
    if (name === undefined) continue;
    const assetDir = join(assembly.directory, `asset.${props.Code.S3Key.replace(/\.zip$/, '')}`);
    const environment: Record<string, string> = {};
    for (const [key, value] of Object.entries(props.Environment?.Variables ?? {}))
      if (typeof value === 'string') environment[key] = value;
    functions[name] = {
      name,
      assembly: assembly.directory,
      assetDir,
      bundleBytes: statSync(join(assetDir, 'index.mjs')).size,
      coldStartBytes: coldStartModules(join(assetDir, 'index.mjs')).reduce(
        (bytes, module) => bytes + statSync(module).size,
        0,
      ),
      handler: props.Handler,
      timeoutMs: props.Timeout * 1000,
      memoryMiB: props.MemorySize,
      environment,
    };
  }
  for (const name of Object.values(names)) {
    if (!functions[name]) throw new Error(`the synthesized stack has no function ${name}`);
  }
  return functions as DeployedFunctions;
}

/**
 * `module` and every module it imports statically, through any number of chunks: what a cold
 * start reads. esbuild writes a static import as `import{…}from"./chunks/….mjs"` or
 * `import"./….mjs"`; a dynamic one, `import("./….mjs")`, is loaded at first use.
 */
export function coldStartModules(module: string, found = new Set<string>()): string[] {
  if (found.has(module)) return [...found];
  found.add(module);
  const code = readFileSync(module, 'utf8');
  for (const [, from, bare] of code.matchAll(
    /\bfrom\s*"(\.{1,2}\/[^"]+)"|\bimport\s*"(\.{1,2}\/[^"]+)"/g,
  ))
    coldStartModules(join(dirname(module), (from ?? bare) as string), found);
  return [...found];
}

/**
 * The source map beside a module of a bundle (index.mjs by default), read to name the sources
 * the module was made from.
 */
export function bundleSources(
  fn: DeployedFunction,
  module = join(fn.assetDir, 'index.mjs'),
): string[] {
  const map = JSON.parse(readFileSync(`${module}.map`, 'utf8')) as { sources: string[] };
  return map.sources;
}
