/**
 * The documented `cdk destroy` plan ("Tear down") is read from docs/deploying.md and held
 * against the synthesized templates: every resource falls under exactly one row of its stack,
 * and its DeletionPolicy is what that row promises for the `retainData` setting. CloudFormation User
 * Guide, "DeletionPolicy attribute": Retain keeps the resource when its stack is deleted, Delete
 * (the default when the attribute is absent) deletes it
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { existingClusters, synthApp } from '../helpers/cdk.ts';
import { repoRoot } from '../helpers/repo-root.ts';

interface PlanRow {
  stack: string;
  label: string;
  kept: { on: boolean; off: boolean };
}

/** Where the plan is documented. */
const planFile = 'docs/deploying.md';

/** The first table of the plan file's "## Tear down" section, one row per resource group. */
function readmePlan(): PlanRow[] {
  const readme = readFileSync(join(repoRoot, planFile), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Tear down\n'));
  if (!section) throw new Error(`${planFile} has no "## Tear down" section`);
  const lines = section.split('\n').filter((l) => l.startsWith('|'));
  const [header, rule, ...rows] = lines;
  expect(header).toContain('`retainData` on');
  expect(rule).toMatch(/^\|(-+\|)+$/);
  const keptOrDeleted = (cell: string) => {
    const word = cell.split(' ')[0];
    if (word !== 'kept' && word !== 'deleted') {
      throw new Error(
        `docs/deploying.md tear-down cell "${cell}" must start with "kept" or "deleted"`,
      );
    }
    return word === 'kept';
  };
  return rows.map((row) => {
    const [stack, resources, on, off] = row
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const label = /^\*\*(.+?)\*\*/.exec(resources ?? '')?.[1];
    if (!stack || !label || !on || !off)
      throw new Error(`unreadable docs/deploying.md row: ${row}`);
    return {
      stack: stack.replaceAll('`', ''),
      label,
      kept: { on: keptOrDeleted(on), off: keptOrDeleted(off) },
    };
  });
}

/**
 * Which resources each label of docs/deploying.md means, by the construct path in their logical ids. A label
 * the page has and this map lacks (or the reverse) fails the test: rename both together.
 */
const members: Record<string, (logicalId: string) => boolean> = {
  'function log groups': (id) => /^Pipeline(ApplyEvents|CheckDrift|Replay)LogGroup/.test(id),
  'everything else': () => true,
  MSK: (id) => id.startsWith('Kafka') && !id.startsWith('KafkaBootstrapBrokers'),
  ElastiCache: (id) => id.startsWith('Redis'),
  'KMS key': (id) => id.startsWith('DataKey'),
  network: (id) => id.startsWith('Network') || id.startsWith('CustomVpcRestrictDefaultSG'),
  // The AwsCustomResource provider, a singleton of aws-cdk-lib (kafka-cluster.ts).
  'bootstrap brokers lookup': (id) =>
    id.startsWith('KafkaBootstrapBrokers') || id.startsWith('AWS679f53fac002430cb0da5b7982bd2287'),
};

type Resources = Record<string, { Type: string; DeletionPolicy?: string }>;

function templates(retainData: boolean) {
  const out: { config: string; stack: string; resources: Resources }[] = [];
  const configurations = {
    default: {},
    serverless: { kafka: { mode: 'serverless' }, redis: { mode: 'serverless' } },
    'bring-your-own': { existing: existingClusters },
  };
  for (const [config, context] of Object.entries(configurations)) {
    const { stacks } = synthApp({ ...context, retainData });
    if (stacks.stage === 'localstack') throw new Error('unexpected LocalStack stage');
    for (const stack of stacks.stage === 'aws'
      ? [stacks.data, stacks.pipeline]
      : [stacks.pipeline]) {
      out.push({
        config,
        stack: stack.stackName,
        resources: Template.fromStack(stack).toJSON().Resources as Resources,
      });
    }
  }
  return out;
}

const plan = readmePlan();
const synthesized = { on: templates(true), off: templates(false) };

describe('"Tear down" plan of docs/deploying.md', () => {
  it('names every resource group the test knows, and no other', () => {
    expect(plan.map((r) => r.label).sort()).toEqual(Object.keys(members).sort());
  });

  it.each([['on'], ['off']] as const)(
    'with retainData %s, keeps exactly what the table in the docs says it keeps',
    (setting) => {
      // Prepare
      const used = new Set<string>();
      const mismatches: string[] = [];
      // Act
      for (const { config, stack, resources } of synthesized[setting]) {
        const rows = plan.filter((r) => r.stack === stack);
        expect(rows.length, `docs rows for ${stack}`).toBeGreaterThan(0);
        for (const [id, resource] of Object.entries(resources)) {
          // A specific row first; "everything else" only for what no other row claims.
          const specific = rows.filter(
            (r) => r.label !== 'everything else' && members[r.label]?.(id),
          );
          const fallback = rows.filter((r) => r.label === 'everything else');
          const matching = specific.length > 0 ? specific : fallback;
          if (matching.length !== 1) {
            mismatches.push(`${config} ${stack} ${id}: ${matching.length} docs rows`);
            continue;
          }
          const row = matching[0] as PlanRow;
          used.add(`${row.stack} ${row.label}`);
          const kept = resource.DeletionPolicy === 'Retain';
          if (kept !== row.kept[setting]) {
            mismatches.push(
              `${config} ${stack} ${id} (${resource.Type}): the docs say ${row.kept[setting] ? 'kept' : 'deleted'}, DeletionPolicy ${resource.DeletionPolicy ?? 'absent (Delete)'}`,
            );
          }
        }
      }
      // Assess
      expect(mismatches).toEqual([]);
      // Every row stands for resources that exist: the docs list nothing imaginary.
      expect([...used].sort()).toEqual(plan.map((r) => `${r.stack} ${r.label}`).sort());
    },
  );
});
