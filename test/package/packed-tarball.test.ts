/**
 * The package as a user gets it: `npm run pack`'s tarball installed (no workspace link) into a
 * project of its own outside this repository, beside the CDK peers it names. There, the README's
 * three examples ("Use it in your own code") are type-checked against the shipped declarations
 * and run: the producer's events go to the suite's broker and are applied through the public API
 * to the suite's Redis, exactly once however often they are applied or sent again; the CDK app
 * places the pipeline construct in its own stack on its own VPC and clusters, and its template
 * passes cdk-nag and the platform rules.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parsePositionToken } from '../../core/events/position.ts';
import { pack, packageEntries } from '../../tools/pack.ts';
import { mskTriggerActions } from '../helpers/aws-rules.ts';
import { createTopic, suiteKafkaEnv, uniqueTopic } from '../helpers/kafka.ts';
import { codeBlocksAfter } from '../helpers/markdown.ts';
import { redisEnv } from '../helpers/redis.ts';
import { repoRoot } from '../helpers/repo-root.ts';

const run = promisify(execFile);

/** The version of a package this repository installed: the npm cache has it. */
const installedVersion = (name: string) =>
  (
    JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

const peers = ['aws-cdk-lib', 'constructs', 'cdk-nag', 'esbuild', '@types/node', 'typescript'];

/** The README's examples, by the file name each is marked with. */
function readmeExamples(): Map<string, string> {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  return codeBlocksAfter(readme, /<!-- example:([\w.-]+) -->/);
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

describe('the packed package, in a project of its own', () => {
  let project: string;
  let tarball: string;
  const examples = readmeExamples();

  beforeAll(async () => {
    tarball = pack();
    project = join(inject('tempRoot'), `user-project-${randomUUID().slice(0, 8)}`);
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', private: true, type: 'module' }),
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2024',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        include: ['*.ts'],
      }),
    );
    for (const [file, code] of examples) writeFileSync(join(project, file), code);
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        tarball,
        ...peers.map((name) => `${name}@${installedVersion(name)}`),
      ],
      { cwd: project, timeout: 300_000 },
    );
  }, 360_000);

  it('is installed from the tarball, with the Lua bundle and no path back into the repository', () => {
    const installed = join(project, 'node_modules', 'seqguard');
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    const lua = readFileSync(join(installed, 'core', 'redis', 'lua-scripts.generated.js'), 'utf8');
    expect(lua).toContain('applyBatch');
    const files = readdirSync(installed, { recursive: true, encoding: 'utf8' }).filter((f) =>
      /\.(js|ts|json)$/.test(f),
    );
    expect(files.length).toBeGreaterThan(50);
    const leaking = files.filter((f) =>
      readFileSync(join(installed, f), 'utf8').includes(repoRoot),
    );
    expect(leaking).toEqual([]);
    // The repository's own Node binary and dev tools stay out of a user's project.
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    expect(Object.keys(manifest)).not.toContain('optionalDependencies');
    expect(Object.keys(manifest)).not.toContain('devDependencies');
  });

  it('packs the compiled entries, their declarations and the docs, and nothing else', async () => {
    // Prepare: the tarball's file list, as npm will unpack it.
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const listed = stdout
      .trim()
      .split('\n')
      .map((f) => f.replace(/^package\//, ''));
    // Assess: no test, bench, local runtime, tools, Lua source or TypeScript source.
    expect([...new Set(listed.map((f) => f.split('/')[0]))].sort()).toEqual([
      'CHANGELOG.md',
      'README.md',
      'core',
      'functions',
      'infra',
      'package.json',
    ]);
    expect(listed.filter((f) => f.includes('/') && !/\.(js|d\.ts)$/.test(f))).toEqual([]);
    for (const module of Object.values(packageEntries)) {
      expect(listed).toContain(`${module}.js`);
      expect(listed).toContain(`${module}.d.ts`);
    }
    // The Lambda entries the CDK constructs bundle, and the private imports they load late.
    for (const name of ['apply-events', 'check-drift', 'replay'])
      expect(listed).toContain(`functions/${name}/handler.js`);
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      imports: Record<string, string>;
    };
    for (const source of Object.values(manifest.imports))
      expect(listed).toContain(source.replace(/^\.\//, '').replace(/\.ts$/, '.js'));
  });

  it("type-checks the README's three examples against the shipped declarations", async () => {
    expect([...examples.keys()].sort()).toEqual(['app.ts', 'apply.ts', 'produce.ts']);
    const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(
      run(process.execPath, [tsc, '-p', project], { cwd: project }),
    ).resolves.toBeDefined();
  }, 120_000);

  it('produces with seqguard/producer and applies through seqguard, exactly once', async () => {
    // Prepare
    const topic = uniqueTopic('package');
    await createTopic(topic, 2);
    const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TOPIC: topic };
    const produce = () =>
      run(process.execPath, ['produce.ts'], {
        cwd: project,
        env: { ...base, KAFKA_BROKERS: inject('kafkaPlaintextBootstrap') },
      });
    const keyPrefix = `pkg${randomUUID().slice(0, 8)}`;
    const apply = async (at: string) => {
      const { stdout } = await run(process.execPath, ['apply.ts'], {
        cwd: project,
        env: {
          ...base,
          ...redisEnv(),
          ...suiteKafkaEnv(),
          SEQGUARD_KEY_PREFIX: keyPrefix,
          AT: at,
        },
      });
      return JSON.parse(stdout.trim().split('\n').at(-1) as string);
    };

    // Act: three events, applied; applied again; the producer restarted and sending them again.
    const token = (await produce()).stdout.trim();
    const first = await apply(token);
    const again = await apply(token);
    const resent = (await produce()).stdout.trim();
    const afterResend = await apply(resent);

    // Assess: 10 + 5 + 7, once, read at the producer's position: the three events of one scope
    // on one partition, the resent ones after them.
    const [at] = parsePositionToken(token);
    expect(parsePositionToken(token)).toEqual([{ topic, partition: at?.partition, offset: 2n }]);
    expect(parsePositionToken(resent)).toEqual([{ topic, partition: at?.partition, offset: 5n }]);
    expect(first).toEqual({ applied: 3, duplicates: 0, score: 22 });
    expect(again).toEqual({ applied: 0, duplicates: 3, score: 22 });
    expect(afterResend).toEqual({ applied: 0, duplicates: 6, score: 22 });
  }, 120_000);

  it("synthesizes a user's app with the pipeline in its own stack: cdk-nag and platform rules pass", async () => {
    // Prepare: the same app with one careless role, to show that cdk-nag runs in it.
    const app = examples.get('app.ts') as string;
    const careless = `import * as iam from 'aws-cdk-lib/aws-iam';\n${app.replace(
      'app.synth();',
      "new iam.Role(stack, 'Careless', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }).addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));\napp.synth();",
    )}`;
    writeFileSync(join(project, 'careless-app.ts'), careless);
    const synth = (file: string, outdir: string) =>
      run(process.execPath, [file], {
        cwd: project,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CDK_OUTDIR: outdir },
        timeout: 300_000,
      });
    const violations = (outdir: string) =>
      (
        JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
          pluginReports: { pluginName: string; violations: { ruleName: string }[] }[];
        }
      ).pluginReports.flatMap((r) => r.violations.map((v) => `${r.pluginName} ${v.ruleName}`));

    // Act: the user's app as the README gives it, bundling the functions from the package.
    const outdir = join(project, 'cdk.out');
    const carelessOut = join(project, 'careless.out');
    await expect(synth('careless-app.ts', carelessOut)).rejects.toThrow();
    await synth('app.ts', outdir);

    // Assess: cdk-nag's AwsSolutions pack runs at synth, and finds nothing in the app as given.
    expect(violations(carelessOut)).toContain('AwsSolutions AwsSolutions-IAM5[Action::s3:*]');
    expect(violations(outdir)).toEqual([]);
    const template = JSON.parse(readFileSync(join(outdir, 'GameScores.template.json'), 'utf8')) as {
      Resources: Resources;
    };
    const resources = Object.entries(template.Resources);
    const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);

    // Its own clusters: no VPC, broker or cache is created.
    for (const type of ['AWS::EC2::VPC', 'AWS::MSK::Cluster', 'AWS::ElastiCache::ReplicationGroup'])
      expect(ofType(type)).toEqual([]);

    // Lambda developer guide, "Lambda runtimes" (lambda-runtimes.html): nodejs24.x is the
    // supported Node.js 24 runtime; every function is bundled into its asset.
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(3);
    for (const [, fn] of functions) expect(fn.Properties?.Runtime).toBe('nodejs24.x');
    const assets = readdirSync(outdir).filter((f) => f.startsWith('asset.'));
    const bundles = assets.filter((a) => existsSync(join(outdir, a, 'index.mjs')));
    expect(bundles.length).toBeGreaterThanOrEqual(3);

    // Lambda developer guide, "Kafka event source mapping consumer group ID"
    // (kafka-consumer-group-id.html): each trigger has its own consumer group id; and
    // "Configuring error handling controls for Kafka" (kafka-retry-configurations.html): partial
    // batch responses need provisioned mode.
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, r]) => r.Properties ?? {});
    expect(mappings.length).toBeGreaterThan(0);
    const groups = mappings.map(
      (m) =>
        (m.AmazonManagedKafkaEventSourceConfig as { ConsumerGroupId?: string } | undefined)
          ?.ConsumerGroupId,
    );
    expect(new Set(groups).size).toBe(mappings.length);
    for (const m of mappings) {
      expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(m.ProvisionedPollerConfig).toBeDefined();
    }

    // Lambda developer guide, "Configuring Lambda execution role permissions" for MSK
    // (with-msk-permissions.html): the trigger's role holds every action the mapping uses.
    const triggerPolicies = ofType('AWS::IAM::Policy').filter(([id]) => /ApplyEvents/.test(id));
    const actions = new Set(
      triggerPolicies.flatMap(([, p]) =>
        (
          (p.Properties?.PolicyDocument as { Statement?: { Action: string | string[] }[] })
            ?.Statement ?? []
        ).flatMap((s) => s.Action),
      ),
    );
    expect(mskTriggerActions.filter((a) => !actions.has(a))).toEqual([]);
  }, 360_000);
});
