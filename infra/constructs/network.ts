/**
 * The VPC: private (isolated) subnets only, no NAT gateway and no internet gateway. The only
 * ways out are interface endpoints for what the functions and the event source mapping call:
 * Secrets Manager (the Redis credentials), and Lambda and STS (the Kafka event source
 * mapping's pollers, https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html).
 * Every flow is logged.
 */
import { Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface NetworkProps {
  azCount: number;
  /** Explicit zone names; by default the region's first `azCount` zones (Fn::GetAZs). */
  availabilityZones?: string[];
  logRetentionDays: number;
  retainLogs: boolean;
}

export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  readonly endpoints: {
    secretsManager: ec2.InterfaceVpcEndpoint;
    lambda: ec2.InterfaceVpcEndpoint;
    sts: ec2.InterfaceVpcEndpoint;
  };

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      // Zone names stay tokens, so synth needs no AZ lookup (and no AWS credentials).
      availabilityZones:
        props.availabilityZones ??
        Array.from({ length: props.azCount }, (_, i) => Fn.select(i, Fn.getAzs())),
      natGateways: 0,
      subnetConfiguration: [
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 20 },
      ],
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });

    const endpoint = (name: string, service: ec2.InterfaceVpcEndpointAwsService) =>
      this.vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        // Closed both ways: each client is let in by its bind…() (HTTPS from its security
        // group), and an endpoint never opens connections of its own.
        open: false,
        securityGroups: [
          new ec2.SecurityGroup(this, `${name}EndpointSecurityGroup`, {
            vpc: this.vpc,
            description: `${name} interface endpoint: HTTPS from bound clients only`,
            allowAllOutbound: false,
          }),
        ],
      });
    this.endpoints = {
      secretsManager: endpoint(
        'SecretsManager',
        ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      ),
      lambda: endpoint('Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA),
      sts: endpoint('Sts', ec2.InterfaceVpcEndpointAwsService.STS),
    };
  }
}
