/**
 * Every documented change to a running deployment (tools/update-safety/scenarios.ts) deploys as
 * CloudFormation would have it: both sides synthesized, every resource of every stack classified
 * from the resource provider schemas cfn-lint ships (tools/update-safety/classify.ts). A change
 * fails here when it
 * - replaces a resource whose fixed physical name stays the same (CloudFormation, "Name type":
 *   https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html),
 * - replaces a stateful resource that `documentedReplacements` does not list with its cost,
 * - changes a Kafka trigger's consumer group in place (Lambda developer guide, "Customizable
 *   consumer group ID": https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html),
 * - creates a trigger for the same function, cluster and topic before the old one is deleted
 *   (CreateEventSourceMapping, ResourceConflictException:
 *   https://docs.aws.amazon.com/lambda/latest/dg/API_CreateEventSourceMapping.html),
 * - changes an export another stack imports (Fn::ImportValue:
 *   https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html),
 * - or, as a new deployment beside the old one (a new prefix), takes a name or consumer group the
 *   old one holds.
 * The table of docs/deploying.md is regenerated from the same results and must match the page.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  classifyStacks,
  findingsOf,
  fixedName,
  namingProperties,
  type ProviderSchemas,
} from '../../tools/update-safety/classify.ts';
import {
  checkScenarios,
  documentedReplacements,
  logicalIdRoot,
  type ScenarioResult,
  scenarios,
} from '../../tools/update-safety/scenarios.ts';
import type { CfnTemplate, StackTemplates } from '../../tools/update-safety/synth.ts';
import { templatesOf } from '../../tools/update-safety/synth.ts';
import {
  generatedSection,
  renderTable,
  tableCommand,
  tablePage,
} from '../../tools/update-safety/table.ts';
import { synthApp } from '../helpers/cdk.ts';
import { repoRoot } from '../helpers/repo-root.ts';
import { providerSchemas } from '../helpers/resource-schemas.ts';

let schemas: ProviderSchemas;
let results: ScenarioResult[];
const synthesize = (context: Record<string, unknown>): StackTemplates =>
  templatesOf(synthApp(context).app);

beforeAll(() => {
  // The schemas come with the pinned cfn-lint: its venv is made on first use, as for cfn-lint.
  schemas = providerSchemas();
  results = checkScenarios(synthesize, schemas);
}, 300_000);

const resultOf = (name: string) => results.find((r) => r.scenario.name === name) as ScenarioResult;

describe('the documented changes to a running deployment', () => {
  it.each(scenarios.map((s) => s.name))('%s: deploys without a finding', (name) => {
    expect(resultOf(name).findings.map((f) => f.message)).toEqual([]);
  });

  it('lists a documented replacement only where its change makes it', () => {
    const stale = documentedReplacements.filter((d) => {
      const result = resultOf(d.scenario);
      return !result?.stacks.some((s) =>
        s.changes.some(
          (c) => c.change === 'replacement' && logicalIdRoot(c.logicalId) === d.resource,
        ),
      );
    });
    expect(stale).toEqual([]);
  });

  it('synthesizes both sides of every change to something that differs', () => {
    for (const { scenario, stacks } of results) {
      const touched = stacks.some(
        (s) =>
          s.status !== 'changed' ||
          s.changes.some((c) => c.change !== 'none' || c.reason.includes('DeletionPolicy')),
      );
      expect(touched, scenario.name).toBe(true);
    }
  });

  it(`keeps the table of ${tablePage} true`, () => {
    const page = readFileSync(join(repoRoot, tablePage), 'utf8');
    const table = renderTable(results);
    expect(
      generatedSection(page),
      `${tablePage}'s table "What each change does to your deployment" is out of date: run ${tableCommand}`,
    ).toBe(table);
  });
});

describe('the check, on the synthesized data stack', () => {
  /** The baseline's templates with one change made by hand. */
  function withChange(change: (data: CfnTemplate) => void): StackTemplates {
    const before = results[0]?.stacks ?? [];
    const templates = Object.fromEntries(
      before.map((s) => [s.stack, structuredClone(s.before) as CfnTemplate]),
    );
    change(templates['seqguard-data'] as CfnTemplate);
    return templates;
  }
  const baselineStacks = () =>
    Object.fromEntries(
      (results[0]?.stacks ?? []).map((s) => [s.stack, s.before as CfnTemplate]),
    ) as StackTemplates;
  const resource = (data: CfnTemplate, root: string) =>
    Object.entries(data.Resources ?? {}).find(([id]) => logicalIdRoot(id) === root)?.[1]
      ?.Properties as Record<string, unknown>;

  it('names the fixed names of the data stack from the schemas', () => {
    expect(namingProperties('AWS::ElastiCache::User', schemas)).toEqual(['UserId', 'UserName']);
    expect(namingProperties('AWS::ElastiCache::ReplicationGroup', schemas)).toContain(
      'ReplicationGroupId',
    );
    expect(namingProperties('AWS::MSK::Cluster', schemas)).toEqual(['ClusterName']);
    expect(namingProperties('AWS::Lambda::Function', schemas)).toEqual(['FunctionName']);
    const data = baselineStacks()['seqguard-data'] as CfnTemplate;
    const named = Object.entries(data.Resources ?? {})
      .filter(([, r]) => fixedName(r, schemas))
      .map(([id, r]) => `${r.Type} ${logicalIdRoot(id)}`);
    expect(named).toEqual(
      expect.arrayContaining([
        'AWS::MSK::Configuration KafkaConfiguration',
        'AWS::MSK::Cluster KafkaCluster',
        'AWS::ElastiCache::ReplicationGroup RedisReplicationGroup',
        'AWS::ElastiCache::User RedisAppUser',
        'AWS::ElastiCache::UserGroup RedisUserGroup',
      ]),
    );
  });

  it('fails a replacement of the cache under its fixed name, and as stateful', () => {
    // Port is create-only (AWS::ElastiCache::ReplicationGroup): the cache is replaced, and
    // whatever refers to it follows.
    const after = withChange((data) => {
      const group = resource(data, 'RedisReplicationGroup');
      group.Port = 6380;
    });
    const stacks = classifyStacks(baselineStacks(), after, schemas);
    const rules = findingsOf(stacks, schemas).map((f) => `${f.rule} ${logicalIdRoot(f.logicalId)}`);
    expect(rules).toEqual(
      expect.arrayContaining([
        'fixed-name RedisReplicationGroup',
        'stateful RedisReplicationGroup',
      ]),
    );
  });

  it('fails a replaced KMS key: stateful, and its export is in use by the pipeline stack', () => {
    const after = withChange((data) => {
      const key = Object.values(data.Resources ?? {}).find((r) => r.Type === 'AWS::KMS::Key');
      if (key) key.Type = 'AWS::KMS::ReplicaKey';
    });
    const stacks = classifyStacks(baselineStacks(), after, schemas);
    const rules = new Set(findingsOf(stacks, schemas).map((f) => f.rule));
    expect([...rules]).toEqual(expect.arrayContaining(['stateful', 'export-in-use']));
    const pipeline = stacks.find((s) => s.stack === 'seqguard-pipeline');
    expect(pipeline?.changes.some((c) => c.change !== 'none')).toBe(true);
  });
});
