/**
 * The house function: every seqguard Lambda is one of these, so runtime, architecture, log
 * retention, source maps, bundling and the execution role are decided once. Bundling
 * (function-code.ts) runs esbuild locally, never Docker, and inlines the Lua scripts as text
 * from `core/redis/lua-scripts.generated.ts` (written by `npm run lua`).
 *
 * The same file runs in two places: from this repository's TypeScript source, and compiled in the
 * package users install (`seqguard/cdk`, built by tools/pack.ts). Either way the entries sit at
 * the same place relative to this file, with this file's extension.
 */
import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { EnvironmentVariable } from '../../core/index.ts';
import { acknowledge } from '../nag.ts';
import { functionCode } from './function-code.ts';

const thisFile = fileURLToPath(import.meta.url);
/** The repository, or the installed package's root. */
const packageRoot = join(dirname(thisFile), '..', '..');
/** `.ts` from this repository's source, `.js` in the installed package. */
const sourceExtension = extname(thisFile);
const luaModule = join(packageRoot, 'core', 'redis', `lua-scripts.generated${sourceExtension}`);

/** The three Lambda entries, `functions/<name>/handler.ts`. */
export type SeqguardFunctionName = 'apply-events' | 'check-drift' | 'replay';

/** A function's name (`<prefix>-apply-events`, …): fixed, so the data stack can name it too. */
export const functionNameOf = (prefix: string, name: SeqguardFunctionName) => `${prefix}-${name}`;

export interface SeqguardFunctionProps {
  name: SeqguardFunctionName;
  /** Physical name prefix, e.g. `seqguard` → `seqguard-apply-events`. */
  prefix: string;
  description: string;
  memorySize: number;
  timeout: Duration;
  logRetentionDays: number;
  retainLogs: boolean;
  /** Private subnets to attach to; omitted for the LocalStack stage. */
  vpc?: ec2.IVpc;
  environment?: Partial<Record<EnvironmentVariable, string>>;
  /**
   * A handler module of your own instead of `functions/<name>/handler`: one that composes the
   * function's factory (`seqguard/functions`) with your mutations (docs/your-own-mutation.md).
   * It must export `handler`.
   */
  entry?: string;
}

/** The handler entries a pipeline's functions use instead of the package's own, by name. */
export type SeqguardHandlerEntries = Partial<Record<SeqguardFunctionName, string>>;

export class SeqguardFunction extends Construct {
  /**
   * The Lambda function. Its asset: the handler's bundle, `index.mjs`, and what that loads at
   * first use (function-code.ts).
   */
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** Present when attached to a VPC: egress is closed until a bind…() opens it. */
  readonly securityGroup: ec2.SecurityGroup | undefined;
  private readonly vpc: ec2.IVpc | undefined;
  private networkInterfaceUpkeep = false;

  constructor(scope: Construct, id: string, props: SeqguardFunctionProps) {
    super(scope, id);
    if (!existsSync(luaModule) && Stack.of(this).bundlingRequired) {
      throw new Error(
        `${luaModule} is missing: run \`npm run lua\` first (cdk.json's app command does)`,
      );
    }
    const functionName = functionNameOf(props.prefix, props.name);
    this.vpc = props.vpc;
    // No fixed name: a log group kept by a destroy (retainData) would make the next deploy's
    // CreateLogGroup fail (log group names are unique per account and region), and the function
    // logs wherever its LoggingConfig points.
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    // Our own role, so no AWS managed policy (Resource "*") comes with it: logs go to this
    // function's log group only, and each bind…() adds exactly what it needs.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${functionName}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    if (props.vpc) {
      this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: props.vpc,
        description: `${functionName}: egress only to what it is bound to`,
        allowAllOutbound: false,
      });
    }

    const entry =
      props.entry ?? join(packageRoot, 'functions', props.name, `handler${sourceExtension}`);
    this.function = new lambda.Function(this, 'Function', {
      functionName,
      description: props.description,
      // apply-events reads Kafka for a ledger's hole only: its cold start leaves the client out.
      code: functionCode(entry, packageRoot, {
        privateImportsApart: props.name === 'apply-events',
      }),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      ...(props.vpc && this.securityGroup
        ? {
            vpc: props.vpc,
            vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
            securityGroups: [this.securityGroup],
          }
        : {}),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
    });

    if (props.vpc) {
      this.allowNetworkInterfaces([this.securityGroup as ec2.SecurityGroup]);
    }
  }

  /**
   * What Lambda needs to manage the function's (or its event source mapping's) network
   * interfaces (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html): creation
   * limited to this VPC's private subnets (and `extraSubnetIds`: a brought MSK cluster's client
   * subnets, where the mapping's interfaces go) and the given security groups.
   */
  allowNetworkInterfaces(
    securityGroups: ec2.ISecurityGroup[],
    extraSubnetIds: string[] = [],
  ): void {
    const vpc = this.vpc;
    if (!vpc) return;
    const stack = Stack.of(this);
    const ec2Arn = (resource: string, name: string) =>
      stack.formatArn({ service: 'ec2', resource, resourceName: name });
    const subnets = [
      ...new Set([
        ...vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }).subnetIds,
        ...extraSubnetIds,
      ]),
    ];
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface'],
        resources: [
          ec2Arn('network-interface', '*'),
          ...subnets.map((id) => ec2Arn('subnet', id)),
          ...securityGroups.map((sg) => ec2Arn('security-group', sg.securityGroupId)),
        ],
      }),
    );
    if (this.networkInterfaceUpkeep) return;
    this.networkInterfaceUpkeep = true;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: [ec2Arn('network-interface', '*')],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        // EC2's Describe actions support no resource-level permissions.
        actions: [
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DescribeVpcs',
          'ec2:DescribeSecurityGroups',
        ],
        resources: ['*'],
      }),
    );
    acknowledge(
      this.role,
      'Lambda creates and deletes its own network interfaces, whose ids are not known in advance (network-interface/*); EC2 Describe* actions support no resource-level permissions (Resource "*"). Creation is limited to this VPC\'s subnets and the bound security groups.',
      'AwsSolutions-IAM5[Resource::*]',
      `AwsSolutions-IAM5[Resource::${ec2Arn('network-interface', '*')}]`,
    );
  }

  /** Sets one of the functions' environment variables (core/config/environment.ts). */
  addEnvironment(name: EnvironmentVariable, value: string): void {
    this.function.addEnvironment(name, value);
  }

  get connections(): ec2.Connections {
    return this.function.connections;
  }
}
