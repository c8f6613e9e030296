/**
 * Where MSK can put provisioned brokers. MSK documents its zone rules by zone ID, and a zone name
 * maps to a different zone ID in each account, so synth (offline, with no lookup) cannot tell
 * whether a name is allowed. What it can do: refuse the region's first zones (Fn::GetAZs, known
 * only at deploy time) in a region where MSK documents a zone it does not support, and ask for the
 * zones by name (the `availabilityZones` setting), which the user maps to IDs once.
 */
import { Annotations, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { ConfigError } from '../../core/index.ts';
import { regionOfZone } from '../config.ts';

/**
 * CloudFormation template reference, AWS::MSK::Cluster BrokerNodeGroupInfo, ClientSubnets:
 * "Client subnets can't occupy the Availability Zone with ID use1-az3" (the MSK API reference
 * says the same of BrokerNodeGroupInfo).
 */
export const brokerNodeGroupInfoGuide =
  'https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-msk-cluster-brokernodegroupinfo.html';

/**
 * MSK developer guide, "Create an MSK Provisioned cluster": Standard brokers in US West
 * (N. California) take exactly two subnets, in two zones; other regions two or three.
 */
export const createClusterGuide =
  'https://docs.aws.amazon.com/msk/latest/developerguide/msk-create-cluster.html';

export interface MskZoneRule {
  /** Zone IDs MSK brokers cannot use. */
  unsupportedZoneIds?: string[];
  /** The only zone count MSK takes. */
  zoneCount?: number;
  /** The AWS page the rule comes from. */
  source: string;
}

/** The regions whose zones MSK restricts, by AWS's documentation. */
export const mskZoneRules: Readonly<Record<string, MskZoneRule>> = {
  'us-east-1': { unsupportedZoneIds: ['use1-az3'], source: brokerNodeGroupInfoGuide },
  'us-west-1': { zoneCount: 2, source: createClusterGuide },
};

/** The command that shows which zone ID each zone name is in this account. */
export const zoneIdsCommand = (region: string) =>
  `aws ec2 describe-availability-zones --region ${region} --query 'AvailabilityZones[].[ZoneName,ZoneId]' --output text`;

const exampleSetting = (region: string, count: number) =>
  `-c availabilityZones='${JSON.stringify(['a', 'b', 'c'].slice(0, count).map((l) => `${region}${l}`))}'`;

/**
 * Checks the zones of a provisioned MSK cluster against the stack's region: an error (synth
 * stops) for what MSK documents it rejects, a warning when the region is not known at synth.
 */
export function checkMskZones(scope: IConstruct, zones: string[], region: string): void {
  const byToken = zones.some((zone) => Token.isUnresolved(zone));
  if (Token.isUnresolved(region)) {
    if (byToken) {
      Annotations.of(scope).addWarningV2(
        'seqguard:mskZones',
        `The stack's region is not known at synth, so the MSK brokers go in its first ${zones.length} zones, whichever they are. MSK does not support every zone of some regions (${describeRules()}): give the stack a region, or name the zones with the setting availabilityZones.`,
      );
    }
    return;
  }
  const foreign = zones.filter(
    (zone) => !Token.isUnresolved(zone) && regionOfZone(zone) !== region,
  );
  if (foreign.length > 0) {
    throw new ConfigError(
      `availabilityZones: ${foreign.join(', ')} not in ${region}, the stack's region`,
    );
  }
  const rule = mskZoneRules[region];
  if (!rule) return;
  if (rule.zoneCount !== undefined && zones.length !== rule.zoneCount) {
    throw new ConfigError(
      `${region}: MSK takes exactly ${rule.zoneCount} zones here (${rule.source}), and this deployment has ${zones.length}. Set azCount to ${rule.zoneCount}, or name ${rule.zoneCount} zones with availabilityZones (${exampleSetting(region, rule.zoneCount)}).`,
    );
  }
  if (rule.unsupportedZoneIds && byToken) {
    const ids = rule.unsupportedZoneIds.join(', ');
    throw new ConfigError(
      `${region}: MSK does not support the zone ID ${ids} (${rule.source}), and this deployment would put its brokers in the region's first ${zones.length} zones, which may include it: a zone name maps to a different zone ID in each account. Name ${zones.length} zones whose IDs are not ${ids} with the setting availabilityZones, e.g. ${exampleSetting(region, zones.length)}. To see each name's zone ID in your account: ${zoneIdsCommand(region)}`,
    );
  }
}

function describeRules(): string {
  return Object.entries(mskZoneRules)
    .map(([region, rule]) =>
      rule.unsupportedZoneIds
        ? `${region}: not ${rule.unsupportedZoneIds.join(', ')}`
        : `${region}: exactly ${rule.zoneCount} zones`,
    )
    .join('; ');
}
