/**
 * The rules of the update-safety classifier (tools/update-safety/classify.ts) on small
 * hand-written templates and schemas, so each rule can be seen to fail. The real provider
 * schemas and the synthesized stacks are test/infra/update-safety.test.ts's.
 */
import { describe, expect, it } from 'vitest';
import {
  changedPaths,
  classifyStacks,
  classifyTemplates,
  findingsOf,
  formatPath,
  namingProperties,
  type ProviderSchema,
  type ProviderSchemas,
  type ResourceChange,
  schemasDirectory,
} from '../../../tools/update-safety/classify.ts';
import type { CfnResource, CfnTemplate } from '../../../tools/update-safety/synth.ts';

const schema = (createOnly: string[], primaryIdentifier: string[] = ['Arn'], readOnly = ['Arn']) =>
  ({
    createOnly: createOnly.map((p) => p.split('/')),
    primaryIdentifier: primaryIdentifier.map((p) => p.split('/')),
    readOnly: readOnly.map((p) => p.split('/')),
  }) satisfies ProviderSchema;

/** Made-up types with the shapes that matter. */
const schemas: ProviderSchemas = new Map([
  ['Test::Cluster', schema(['ClusterName', 'Broker/Subnets', 'Tags/*/Key'])],
  ['Test::Config', schema(['Name', 'Versions'])],
  ['Test::Topic', schema(['ClusterArn', 'TopicName'])],
  ['Test::Policy', schema([])],
  ['Test::Group', schema(['GroupId'], ['GroupId'], [])],
  ['AWS::KMS::Key', schema([], ['KeyId'], ['Arn', 'KeyId'])],
  [
    'AWS::Lambda::EventSourceMapping',
    schema(['EventSourceArn', 'StartingPosition'], ['Id'], ['Id']),
  ],
  ['AWS::Lambda::Version', schema(['FunctionName'], ['FunctionArn'], ['FunctionArn'])],
]);

const template = (resources: Record<string, CfnResource>): CfnTemplate => ({
  Resources: resources,
});
const cluster = (properties: Record<string, unknown> = {}): CfnResource => ({
  Type: 'Test::Cluster',
  Properties: {
    ClusterName: 'one',
    Broker: { Subnets: ['a', 'b'], InstanceType: 'small' },
    Tags: [{ Key: 'k', Value: 'v' }],
    ...properties,
  },
});

const byId = (changes: ResourceChange[]) =>
  Object.fromEntries(changes.map((c) => [c.logicalId, c]));

describe('changedPaths()', () => {
  it('names the leaves that differ, into objects and same-length arrays', () => {
    const paths = changedPaths(
      { A: { B: 1, C: [1, 2] }, D: 'x' },
      { A: { B: 2, C: [1, 3] }, D: 'x' },
    ).map(formatPath);
    expect(paths).toEqual(['A.B', 'A.C[1]']);
  });

  it('takes an intrinsic function as one value, and a resized array as a whole', () => {
    expect(changedPaths({ F: { Ref: 'A' } }, { F: { Ref: 'B' } }).map(formatPath)).toEqual(['F']);
    expect(changedPaths({ L: [1] }, { L: [1, 2] }).map(formatPath)).toEqual(['L']);
  });
});

describe('classifyTemplates()', () => {
  it('replaces a resource when a create-only property changes', () => {
    const [change] = classifyTemplates(
      template({ C: cluster() }),
      template({ C: cluster({ ClusterName: 'two' }) }),
      schemas,
    );
    expect(change).toMatchObject({ change: 'replacement', properties: ['ClusterName'] });
    expect(change?.reason).toContain('create-only ClusterName');
  });

  it('updates a resource when only other properties change', () => {
    const [change] = classifyTemplates(
      template({ C: cluster() }),
      template({ C: cluster({ Broker: { Subnets: ['a', 'b'], InstanceType: 'large' } }) }),
      schemas,
    );
    expect(change).toMatchObject({ change: 'update', properties: ['Broker.InstanceType'] });
  });

  it('replaces on a change nested under a create-only path, through array wildcards too', () => {
    const subnets = classifyTemplates(
      template({ C: cluster() }),
      template({ C: cluster({ Broker: { Subnets: ['a', 'c'], InstanceType: 'small' } }) }),
      schemas,
    );
    expect(subnets[0]).toMatchObject({ change: 'replacement', properties: ['Broker.Subnets[1]'] });
    const tagKey = classifyTemplates(
      template({ C: cluster() }),
      template({ C: cluster({ Tags: [{ Key: 'other', Value: 'v' }] }) }),
      schemas,
    );
    expect(tagKey[0]?.change).toBe('replacement');
    const tagValue = classifyTemplates(
      template({ C: cluster() }),
      template({ C: cluster({ Tags: [{ Key: 'k', Value: 'w' }] }) }),
      schemas,
    );
    expect(tagValue[0]?.change).toBe('update');
  });

  it('replaces a resource whose type changes', () => {
    const [change] = classifyTemplates(
      template({ C: cluster() }),
      template({ C: { ...cluster(), Type: 'Test::Config' } }),
      schemas,
    );
    expect(change?.change).toBe('replacement');
  });

  it('names added and removed resources, and leaves Metadata and DependsOn alone', () => {
    const changes = byId(
      classifyTemplates(
        template({ Old: cluster(), Same: { ...cluster(), Metadata: { a: 1 } } }),
        template({ New: cluster(), Same: { ...cluster(), Metadata: { a: 2 }, DependsOn: 'New' } }),
        schemas,
      ),
    );
    expect(changes.Old?.change).toBe('removed');
    expect(changes.New?.change).toBe('added');
    expect(changes.Same?.change).toBe('none');
  });

  it('propagates a replacement through Ref, Fn::GetAtt and Fn::Sub, to a fixed point', () => {
    const before = template({
      Config: { Type: 'Test::Config', Properties: { Name: 'cfg', Versions: ['1'] } },
      Cluster: cluster({ ConfigArn: { 'Fn::GetAtt': ['Config', 'Arn'] } }),
      // The topic's ClusterArn is create-only: a replaced cluster replaces it.
      Topic: {
        Type: 'Test::Topic',
        Properties: { ClusterArn: { Ref: 'Cluster' }, TopicName: 't' },
      },
      Policy: {
        Type: 'Test::Policy',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: an Fn::Sub pattern, not a template
        Properties: { Resource: { 'Fn::Sub': '${Topic.Arn}/*' } },
      },
      Bystander: { Type: 'Test::Policy', Properties: { Resource: 'x' }, DependsOn: 'Topic' },
    });
    const after = structuredClone(before);
    const clusterProps = after.Resources?.Cluster?.Properties as Record<string, unknown>;
    clusterProps.ClusterName = 'two';
    const changes = byId(classifyTemplates(before, after, schemas));
    expect(changes.Config?.change).toBe('none');
    expect(changes.Cluster?.change).toBe('replacement');
    expect(changes.Topic).toMatchObject({ change: 'replacement', properties: ['ClusterArn'] });
    expect(changes.Topic?.reason).toContain('refers to replaced Cluster');
    expect(changes.Policy).toMatchObject({ change: 'update', properties: ['Resource'] });
    expect(changes.Bystander?.change).toBe('none');
  });

  it('updates what refers to a replaced resource outside its create-only properties', () => {
    const before = template({
      Config: { Type: 'Test::Config', Properties: { Name: 'cfg', Versions: ['1'] } },
      Cluster: cluster({ ConfigArn: { 'Fn::GetAtt': ['Config', 'Arn'] } }),
    });
    const after = structuredClone(before);
    (after.Resources?.Config?.Properties as Record<string, unknown>).Versions = ['2'];
    const changes = byId(classifyTemplates(before, after, schemas));
    expect(changes.Config?.change).toBe('replacement');
    expect(changes.Cluster).toMatchObject({ change: 'update', properties: ['ConfigArn'] });
  });

  it('classifies a type without a schema by its properties, and says so', () => {
    const custom = (v: number): CfnResource => ({ Type: 'Custom::Thing', Properties: { V: v } });
    const [change] = classifyTemplates(
      template({ X: custom(1) }),
      template({ X: custom(2) }),
      schemas,
    );
    expect(change?.change).toBe('update');
    expect(change?.reason).toContain('without create-only knowledge');
  });
});

describe('namingProperties()', () => {
  it('takes a settable primary identifier, and create-only properties ending in Name', () => {
    expect(namingProperties('Test::Group', schemas)).toEqual(['GroupId']);
    expect(namingProperties('Test::Cluster', schemas)).toEqual(['ClusterName']);
    expect(namingProperties('Test::Policy', schemas)).toEqual([]);
  });
});

/** One stack `s`, before and after. */
const stack = (before: Record<string, CfnResource>, after: Record<string, CfnResource>) =>
  classifyStacks({ s: template(before) }, { s: template(after) }, schemas);
const rulesOf = (stacks: ReturnType<typeof stack>, documented?: () => boolean) =>
  findingsOf(stacks, schemas, documented).map((f) => `${f.rule} ${f.logicalId}`);

describe('findingsOf()', () => {
  const config = (name: string, version: string): CfnResource => ({
    Type: 'Test::Config',
    Properties: { Name: name, Versions: [version] },
  });

  it('fails a replacement that keeps its fixed name, not one that takes a new name', () => {
    expect(rulesOf(stack({ C: config('cfg', '1') }, { C: config('cfg', '2') }))).toEqual([
      'fixed-name C',
    ]);
    expect(rulesOf(stack({ C: config('cfg', '1') }, { C: config('cfg-2', '2') }))).toEqual([]);
  });

  it('does not take a reference for a name (a version names its function)', () => {
    const version = (f: string): CfnResource => ({
      Type: 'AWS::Lambda::Version',
      Properties: { FunctionName: { Ref: f } },
    });
    expect(rulesOf(stack({ V: version('A') }, { V: version('B') }))).toEqual([]);
  });

  it('fails a stateful replacement unless it is documented', () => {
    const key = (type: string): CfnResource => ({ Type: type, Properties: {} });
    const stacks = stack({ K: key('AWS::KMS::Key') }, { K: key('AWS::KMS::ReplicaKey') });
    expect(rulesOf(stacks)).toEqual(['stateful K']);
    expect(rulesOf(stacks, () => true)).toEqual([]);
  });

  const mapping = (group: string, topic = 't', position = 'TRIM_HORIZON'): CfnResource => ({
    Type: 'AWS::Lambda::EventSourceMapping',
    Properties: {
      FunctionName: { Ref: 'Fn' },
      EventSourceArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/c/u',
      Topics: [topic],
      StartingPosition: position,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: group },
    },
  });

  it("fails a trigger's consumer group changed in place (Lambda cannot update it)", () => {
    expect(rulesOf(stack({ T0: mapping('g') }, { T0: mapping('g.t') }))).toEqual([
      'consumer-group T0',
    ]);
    expect(
      rulesOf(
        stack(
          { T0: mapping('g') },
          { T0: { ...mapping('g'), Properties: { ...mapping('g').Properties, BatchSize: 5 } } },
        ),
      ),
    ).toEqual([]);
  });

  it('fails a trigger re-created for the same function, cluster and topic', () => {
    expect(rulesOf(stack({ T0: mapping('g') }, { Ta: mapping('g.t') }))).toEqual([
      'duplicate-trigger Ta',
    ]);
    expect(rulesOf(stack({ T0: mapping('g') }, { T0: mapping('g', 't', 'LATEST') }))).toEqual([
      'duplicate-trigger T0',
    ]);
    expect(rulesOf(stack({ T0: mapping('g', 'a') }, { Tb: mapping('g.b', 'b') }))).toEqual([]);
  });

  it('fails an export whose value changes while another stack imports it', () => {
    const data = (version: string): CfnTemplate => ({
      Resources: { C: config(`cfg-${version}`, version) },
      Outputs: { Out: { Value: { 'Fn::GetAtt': ['C', 'Arn'] }, Export: { Name: 'data:C' } } },
    });
    const pipeline: CfnTemplate = template({
      P: { Type: 'Test::Policy', Properties: { Resource: { 'Fn::ImportValue': 'data:C' } } },
    });
    const stacks = classifyStacks(
      { data: data('1'), pipeline },
      { data: data('2'), pipeline },
      schemas,
    );
    expect(rulesOf(stacks)).toEqual(['export-in-use data:C']);
    const p = stacks.find((s) => s.stack === 'pipeline')?.changes[0];
    expect(p).toMatchObject({ change: 'update', properties: ['Resource'] });
  });

  it('takes a renamed stack for a new deployment, which must not reuse a fixed name', () => {
    const stacks = classifyStacks(
      { old: template({ C: config('cfg', '1'), T: mapping('g') }) },
      { new: template({ C: config('cfg', '1'), T: mapping('g2') }) },
      schemas,
    );
    expect(stacks.map((s) => `${s.stack} ${s.status}`)).toEqual(['new new', 'old gone']);
    expect(rulesOf(stacks)).toEqual(['name-taken C']);
  });
});

describe('schemasDirectory()', () => {
  it('names the command that installs the schemas when the venv is missing', () => {
    expect(() => schemasDirectory('/nonexistent')).toThrow(/tools\/python\/venv\.sh/);
  });
});
