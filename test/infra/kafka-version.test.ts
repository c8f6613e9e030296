/**
 * A `kafkaVersion` change deploys as an update. The MSK configuration lists the cluster's
 * version, and that list is create-only, so the configuration is replaced: CloudFormation
 * creates the new one before it deletes the old one, which a fixed name would block. The cluster
 * itself is upgraded in place (MSK developer guide, "Upgrade the Apache Kafka version",
 * https://docs.aws.amazon.com/msk/latest/developerguide/version-upgrades.html), with the new
 * configuration as the one to apply on the new version (MSK API, UpdateClusterKafkaVersion,
 * ConfigurationInfo, https://docs.aws.amazon.com/msk/1.0/apireference/clusters-clusterarn-version.html).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { mskConfigurationName } from '../../infra/constructs/kafka-cluster.ts';
import { synthApp } from '../helpers/cdk.ts';
import { createOnlyProperties } from '../helpers/resource-schemas.ts';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** The data stack's resources of a type, by logical id. */
function dataResources(context: Record<string, unknown>, type: string): Map<string, Resource> {
  const { stacks } = synthApp(context);
  if (stacks.stage !== 'aws') throw new Error('expected the AWS stage');
  const resources = Template.fromStack(stacks.data).toJSON().Resources as Record<string, Resource>;
  return new Map(Object.entries(resources).filter(([, r]) => r.Type === type));
}

const only = (resources: Map<string, Resource>): [string, Resource] => {
  expect(resources.size).toBe(1);
  return [...resources][0] as [string, Resource];
};

/** The top-level properties whose values differ. */
const changed = (before: Resource, after: Resource) =>
  [...new Set([...Object.keys(before.Properties), ...Object.keys(after.Properties)])].filter(
    (key) => JSON.stringify(before.Properties[key]) !== JSON.stringify(after.Properties[key]),
  );

const v38 = { kafka: { kafkaVersion: '3.8.x' } };
const v39 = { kafka: { kafkaVersion: '3.9.x' } };

describe('a kafkaVersion change', () => {
  it("replaces AWS::MSK::Configuration (Name and KafkaVersionsList are create-only) but updates AWS::MSK::Cluster's KafkaVersion and ConfigurationInfo in place (resource provider schemas, as cfn-lint ships them)", () => {
    expect(createOnlyProperties('AWS::MSK::Configuration').sort()).toEqual([
      'KafkaVersionsList',
      'Name',
    ]);
    const cluster = createOnlyProperties('AWS::MSK::Cluster');
    expect(cluster).not.toContain('KafkaVersion');
    expect(cluster).not.toContain('ConfigurationInfo');
  });

  it('gives the replacement configuration a name of its own, so CloudFormation can create it before deleting the old one', () => {
    const [beforeId, before] = only(dataResources(v38, 'AWS::MSK::Configuration'));
    const [afterId, after] = only(dataResources(v39, 'AWS::MSK::Configuration'));
    expect(afterId).toBe(beforeId);
    expect(changed(before, after).sort()).toEqual(['KafkaVersionsList', 'Name']);
    expect(after.Properties.Name).not.toBe(before.Properties.Name);
    expect(after.Properties.KafkaVersionsList).toEqual(['3.9.x']);
  });

  it('keeps the name when only the server properties change (a new revision, in place)', () => {
    // Two zones instead of three: a replication factor of 2, so other server properties.
    const [, three] = only(dataResources(v38, 'AWS::MSK::Configuration'));
    const [, two] = only(dataResources({ ...v38, azCount: 2 }, 'AWS::MSK::Configuration'));
    expect(changed(three, two)).toEqual(['ServerProperties']);
  });

  it('upgrades the same cluster in place, to a configuration that lists the target version', () => {
    const [beforeId, before] = only(dataResources(v38, 'AWS::MSK::Cluster'));
    const [afterId, after] = only(dataResources(v39, 'AWS::MSK::Cluster'));
    const [configurationId] = only(dataResources(v39, 'AWS::MSK::Configuration'));
    expect(afterId).toBe(beforeId);
    const createOnly = createOnlyProperties('AWS::MSK::Cluster').map((p) => p.split('/')[0]);
    expect(changed(before, after).filter((p) => createOnly.includes(p as string))).toEqual([]);
    expect(after.Properties.KafkaVersion).toBe('3.9.x');
    // The new configuration's first revision: the attribute, never a number of the old one.
    expect(after.Properties.ConfigurationInfo).toEqual({
      Arn: { 'Fn::GetAtt': [configurationId, 'Arn'] },
      Revision: { 'Fn::GetAtt': [configurationId, 'LatestRevision.Revision'] },
    });
  });

  it('names the configuration as MSK allows: ^[0-9A-Za-z][0-9A-Za-z-]{0,}$ (MSK developer guide, "Create a configuration", https://docs.aws.amazon.com/msk/latest/developerguide/msk-configuration-operations-create.html)', () => {
    const longestCluster = `${'a'.repeat(21)}-kafka`;
    for (const version of ['3.8.x', '3.9.x', '4.0.x', '2.8.2.tiered']) {
      const name = mskConfigurationName(longestCluster, { kafkaVersionsList: [version] });
      expect(name).toMatch(/^[0-9A-Za-z][0-9A-Za-z-]{0,}$/);
      expect(name.length).toBeLessThanOrEqual(64);
    }
    const [, configuration] = only(dataResources({}, 'AWS::MSK::Configuration'));
    expect(configuration.Properties.Name).toMatch(/^seqguard-kafka-config-[0-9a-f]{8}$/);
  });
});
