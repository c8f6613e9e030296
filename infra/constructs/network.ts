/**
 * The VPC: private (isolated) subnets only, no NAT gateway and no internet gateway. The only
 * ways out are interface endpoints for what the functions and the event source mapping call:
 * Secrets Manager (the Redis credentials), and Lambda and STS (the Kafka event source
 * mapping's pollers, https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html).
 * Each endpoint's policy allows only those calls (allowOnly()). Every flow is logged.
 */
import { ArnFormat, type CfnResource, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';

/**
 * VPC User Guide (AWS PrivateLink), "Control access to VPC endpoints using endpoint policies": an
 * endpoint without a policy of its own allows every principal every action of the service; a
 * policy limits what can be called through the endpoint, on top of the callers' own permissions.
 */
export const endpointPolicyGuide =
  'https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html';

/** What the deployment calls through its interface endpoints. */
export interface EndpointCalls {
  /** The secret the functions read at cold start (GetSecretValue), by its full ARN. */
  secretArn: string;
  /** The functions the Kafka trigger's pollers invoke, by name (any version or alias of each). */
  invokedFunctionNames: string[];
}

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

    if (props.availabilityZones?.every((zone) => !Token.isUnresolved(zone))) {
      this.acknowledgeNamedZones();
    }

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

  /**
   * Zones given by name are a choice, not an oversight: linters warn of literal zones (W3010),
   * both CDK's validation and cfn-lint, which reads its exceptions from the resource's metadata.
   */
  private acknowledgeNamedZones(): void {
    const reason =
      'The zones are named by the setting availabilityZones: MSK does not support every zone of some regions, so the user picks them (infra/constructs/msk-zones.ts).';
    acknowledge(this.vpc, reason, 'CloudFormation-Validate::W3010');
    for (const subnet of this.vpc.isolatedSubnets) {
      (subnet.node.defaultChild as CfnResource).addMetadata('cfn-lint', {
        config: { ignore_checks: ['W3010'] },
      });
    }
  }

  /**
   * Replaces each endpoint's default policy (every principal, every action) with one that allows
   * what the deployment calls through it, and nothing else (endpointPolicyGuide):
   * - Secrets Manager: GetSecretValue of the Redis secret, by principals of this account (the
   *   functions' roles; core/redis/auth-secret.ts makes no other call).
   * - Lambda: InvokeFunction of the trigger's function. The event source mapping's pollers call
   *   it, as the Lambda service, not as a role of this account, so the principal stays open.
   * - STS: AssumeRole of this account's roles. The pollers assume the function's execution role
   *   to authenticate to MSK with IAM; the role lives in the pipeline's stack, which depends on
   *   this one, so it cannot be named here. Another account's role cannot be assumed through it.
   * Lambda developer guide, "Configuring your Amazon MSK cluster and Amazon VPC network for
   * Lambda" (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html): the
   * pollers use the Lambda and STS endpoints.
   */
  allowOnly(calls: EndpointCalls): void {
    const stack = Stack.of(this);
    const anyone = [new iam.StarPrincipal()];
    this.endpoints.secretsManager.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadTheRedisSecret',
        principals: anyone,
        actions: ['secretsmanager:GetSecretValue'],
        resources: [calls.secretArn],
        conditions: { StringEquals: { 'aws:PrincipalAccount': stack.account } },
      }),
    );
    this.endpoints.lambda.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeTheTriggeredFunction',
        principals: anyone,
        actions: ['lambda:InvokeFunction'],
        resources: calls.invokedFunctionNames.flatMap((name) => {
          const arn = stack.formatArn({
            service: 'lambda',
            resource: 'function',
            resourceName: name,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          });
          // The function, and its versions and aliases (`live`, with provisioned concurrency).
          return [arn, `${arn}:*`];
        }),
      }),
    );
    this.endpoints.sts.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeRolesOfThisAccount',
        principals: anyone,
        actions: ['sts:AssumeRole'],
        resources: [
          stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' }),
        ],
      }),
    );
  }
}
