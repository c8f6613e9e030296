/**
 * cfn-lint (https://github.com/aws-cloudformation/cfn-lint), pinned in tools/python/requirements.txt,
 * on every template of every configuration the suite synthesizes: a template it finds an error
 * in is one CloudFormation would refuse, or deploy wrong. tools/python/venv.sh creates the
 * virtualenv (.tools/venv) on first use; it needs python3 with venv, and PyPI.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existingClusters, synthApp } from '../helpers/cdk.ts';
import { repoRoot } from '../helpers/repo-root.ts';

/** Rules left out, each with its reason. Nothing else is ignored, warnings included. */
const ignoredRules: Record<string, string> = {
  W3005:
    "aws-cdk-lib puts a DependsOn on a Lambda function's role next to the GetAtt of it (its own provider functions too): redundant, not wrong; the template is aws-cdk-lib's to write.",
};

const configurations: Record<string, Record<string, unknown>> = {
  default: {},
  serverless: { kafka: { mode: 'serverless' }, redis: { mode: 'serverless' } },
  'sandbox with paging': {
    retainData: false,
    paging: {
      pagerDutyUrl: 'https://events.pagerduty.com/integration/abc123/enqueue',
      emails: ['oncall@bank.example'],
      slack: { workspaceId: 'T0123', channelId: 'C0456' },
    },
  },
  'low latency with provisioned concurrency': {
    eventSource: { lowLatency: true },
    provisionedConcurrency: 2,
  },
  'named zones': { availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] },
  localstack: { stage: 'localstack', localstack: { kafkaTrigger: true } },
  'bring-your-own clusters': { existing: existingClusters },
};

let cfnLint: string;
const outdirs: string[] = [];

beforeAll(() => {
  const bin = execFileSync(join(repoRoot, 'tools', 'python', 'venv.sh'), {
    encoding: 'utf8',
    timeout: 300_000,
  }).trim();
  cfnLint = join(bin, 'cfn-lint');
}, 300_000);

afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface Finding {
  Rule: { Id: string };
  Level: string;
  Message: string;
  Filename: string;
  Location: { Path: (string | number)[] };
}

function lint(context: Record<string, unknown>): { templates: string[]; findings: Finding[] } {
  const { app } = synthApp(context);
  const { directory } = app.synth();
  outdirs.push(directory);
  const templates = readdirSync(directory)
    .filter((f) => f.endsWith('.template.json'))
    .map((f) => join(directory, f));
  let output: string;
  try {
    output = execFileSync(
      cfnLint,
      [
        '--format',
        'json',
        '--regions',
        'eu-west-1',
        '--ignore-checks',
        ...Object.keys(ignoredRules),
        '--',
        ...templates,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
  } catch (error) {
    // cfn-lint exits non-zero when it finds anything; its findings are still on stdout.
    output = (error as { stdout: string }).stdout;
  }
  return { templates, findings: JSON.parse(output || '[]') as Finding[] };
}

describe('cfn-lint', () => {
  it.each(Object.keys(configurations).map((name) => [name]))(
    'finds nothing in the %s templates',
    (name) => {
      // Act
      const { templates, findings } = lint(configurations[name] as Record<string, unknown>);
      // Assess
      expect(templates.length).toBeGreaterThan(0);
      expect(
        findings.map((f) => `${f.Level} ${f.Rule.Id} ${f.Location.Path.join('/')}: ${f.Message}`),
      ).toEqual([]);
    },
    120_000,
  );
});
