/**
 * The zones of the data stack. MSK does not support every zone of some regions, by zone ID
 * (CloudFormation, AWS::MSK::Cluster BrokerNodeGroupInfo, ClientSubnets: "Client subnets can't
 * occupy the Availability Zone with ID use1-az3",
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-msk-cluster-brokernodegroupinfo.html;
 * MSK developer guide, "Create an MSK Provisioned cluster": exactly two subnets in US West
 * (N. California), https://docs.aws.amazon.com/msk/latest/developerguide/msk-create-cluster.html).
 * Synth stays offline, so where MSK documents such a rule it refuses the region's first zones and
 * asks for the zones by name.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../infra/config.ts';
import { SeqguardData } from '../../infra/index.ts';
import { synthApp } from '../helpers/cdk.ts';

function dataTemplate(context: Record<string, unknown>, region: string): Template {
  const { stacks } = synthApp(context, { region });
  if (stacks.stage !== 'aws') throw new Error('expected the AWS stage');
  return Template.fromStack(stacks.data);
}

const subnetZones = (template: Template) =>
  Object.values(template.findResources('AWS::EC2::Subnet')).map(
    (subnet) => subnet.Properties.AvailabilityZone,
  );

const named = ['us-east-1a', 'us-east-1b', 'us-east-1d'];

describe('the zones of the data stack', () => {
  it('refuses the first zones of us-east-1, naming the setting, the zone ID and the command that maps names to IDs', () => {
    const synth = () => synthApp({}, { region: 'us-east-1' });
    expect(synth).toThrow(/use1-az3/);
    expect(synth).toThrow(/availabilityZones='\["us-east-1a","us-east-1b","us-east-1c"\]'/);
    expect(synth).toThrow(
      "aws ec2 describe-availability-zones --region us-east-1 --query 'AvailabilityZones[].[ZoneName,ZoneId]' --output text",
    );
  });

  it('puts the subnets, and so the brokers, in the zones the setting names', () => {
    const template = dataTemplate({ availabilityZones: named }, 'us-east-1');
    expect(subnetZones(template)).toEqual(named);
    const subnets = template.findResources('AWS::EC2::Subnet');
    const [cluster] = Object.values(template.findResources('AWS::MSK::Cluster'));
    expect(cluster?.Properties.NumberOfBrokerNodes).toBe(3);
    const clientSubnets = (cluster?.Properties.BrokerNodeGroupInfo.ClientSubnets ?? []) as {
      Ref: string;
    }[];
    const brokerZones = clientSubnets.map(({ Ref }) => subnets[Ref]?.Properties.AvailabilityZone);
    expect(brokerZones).toEqual(named);
  });

  it('takes two zones in us-west-1, where MSK takes exactly two, and refuses three', () => {
    expect(() => synthApp({}, { region: 'us-west-1' })).toThrow(
      /us-west-1: MSK takes exactly 2 zones here .*Set azCount to 2/,
    );
    expect(subnetZones(dataTemplate({ azCount: 2 }, 'us-west-1'))).toEqual([
      { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] },
      { 'Fn::Select': [1, { 'Fn::GetAZs': '' }] },
    ]);
  });

  it("keeps the region's first zones where MSK documents no restriction (no lookup at synth)", () => {
    expect(subnetZones(dataTemplate({}, 'eu-west-1'))).toEqual(
      [0, 1, 2].map((i) => ({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] })),
    );
  });

  it("refuses zones of another region than the stack's", () => {
    expect(() => synthApp({ availabilityZones: named }, { region: 'eu-west-1' })).toThrow(
      /availabilityZones: us-east-1a, us-east-1b, us-east-1d not in eu-west-1/,
    );
  });

  it('leaves MSK Serverless to its first zones: the documented rules are of provisioned brokers', () => {
    const template = dataTemplate({ kafka: { mode: 'serverless' } }, 'us-east-1');
    expect(subnetZones(template)).toHaveLength(3);
  });

  it('warns, and does not refuse, when the stack has no region at synth', () => {
    const stack = new Stack(new App(), 'EnvironmentAgnostic');
    new SeqguardData(stack, 'Data', {
      config: resolveConfig({ retainData: false, paging: { none: 'a zones test' } }),
    });
    Annotations.fromStack(stack).hasWarning(
      '/EnvironmentAgnostic/Data',
      Match.stringLikeRegexp(
        'region is not known at synth.*us-east-1: not use1-az3.*availabilityZones',
      ),
    );
  });

  it('accepts named zones without a lint warning for literal zones (W3010), with the reason on the subnets', () => {
    const template = dataTemplate({ availabilityZones: named }, 'us-east-1');
    for (const subnet of Object.values(template.findResources('AWS::EC2::Subnet'))) {
      expect(subnet.Metadata?.['cfn-lint']).toEqual({ config: { ignore_checks: ['W3010'] } });
    }
  });
});
