/**
 * Reading synthesized templates the way a reviewer does: intrinsic functions rendered as text
 * (`{KafkaCluster.Arn}`, logical-id hashes dropped, cross-stack imports followed to what they
 * export), IAM policies as (action, resource) pairs, security group rules as one line each.
 */
import type { Template } from 'aws-cdk-lib/assertions';

type Json = unknown;
type Resources = Record<string, { Type: string; Properties?: Record<string, Json> }>;

/** `PipelineApplyEventsRole1A2B3C4D` → `PipelineApplyEventsRole`. */
const withoutHash = (logicalId: string) => logicalId.replace(/[0-9A-F]{8}$/, '');

export class TemplateText {
  private readonly exports = new Map<string, Json>();
  private readonly templates: Template[];

  constructor(templates: Template[]) {
    this.templates = templates;
    for (const template of templates) {
      const outputs = (template.toJSON().Outputs ?? {}) as Record<
        string,
        { Value: Json; Export?: { Name: string } }
      >;
      for (const output of Object.values(outputs)) {
        if (output.Export) this.exports.set(output.Export.Name, output.Value);
      }
    }
  }

  render(value: Json): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    const v = value as Record<string, Json>;
    if ('Fn::Join' in v) {
      const [separator, parts] = v['Fn::Join'] as [string, Json[]];
      return parts.map((p) => this.render(p)).join(separator);
    }
    if ('Fn::ImportValue' in v) {
      const name = v['Fn::ImportValue'] as string;
      const exported = this.exports.get(name);
      return exported === undefined ? `{import ${name}}` : this.render(exported);
    }
    if ('Fn::GetAtt' in v) {
      const [id, attribute] = v['Fn::GetAtt'] as [string, string];
      return `{${withoutHash(id)}.${attribute}}`;
    }
    if ('Ref' in v) return `{${withoutHash(v.Ref as string)}}`;
    if ('Fn::Select' in v) {
      const [index, list] = v['Fn::Select'] as [number, Json];
      const split = (list as Record<string, Json>)['Fn::Split'] as [string, Json] | undefined;
      if (split) return `{${this.render(split[1])}.split('${split[0]}')[${index}]}`;
      return `{select ${index} ${JSON.stringify(list)}}`;
    }
    return JSON.stringify(value);
  }

  private resources(): Resources {
    return Object.assign(
      {},
      ...this.templates.map((t) => (t.toJSON().Resources ?? {}) as Resources),
    ) as Resources;
  }

  /**
   * Every (action, resource) an IAM role may use, from its inline policies and the
   * AWS::IAM::Policy resources attached to it, with a condition in brackets when there is one.
   */
  permissionsOf(roleLogicalIdPrefix: string): string[] {
    const pairs = new Set<string>();
    const add = (document: Json) => {
      for (const s of (document as { Statement: Record<string, Json>[] }).Statement) {
        if (s.Effect !== 'Allow') throw new Error(`unexpected ${String(s.Effect)} statement`);
        const actions = [s.Action].flat() as string[];
        const resources = [s.Resource].flat().map((r) => this.render(r));
        const condition = s.Condition ? ` [${JSON.stringify(s.Condition)}]` : '';
        for (const a of actions) for (const r of resources) pairs.add(`${a} ${r}${condition}`);
      }
    };
    let found = false;
    for (const [id, resource] of Object.entries(this.resources())) {
      const p = resource.Properties ?? {};
      if (resource.Type === 'AWS::IAM::Role' && withoutHash(id) === roleLogicalIdPrefix) {
        found = true;
        for (const policy of (p.Policies ?? []) as { PolicyDocument: Json }[]) {
          add(policy.PolicyDocument);
        }
      }
      if (
        resource.Type === 'AWS::IAM::Policy' &&
        ((p.Roles ?? []) as Json[]).some((r) => this.render(r) === `{${roleLogicalIdPrefix}}`)
      ) {
        add(p.PolicyDocument);
      }
    }
    if (!found) throw new Error(`no role ${roleLogicalIdPrefix}`);
    return [...pairs].sort();
  }

  /** Every IAM statement (roles' inline policies and AWS::IAM::Policy) of the templates. */
  iamStatements(): { policy: string; actions: string[]; resources: string[] }[] {
    const statements: { policy: string; actions: string[]; resources: string[] }[] = [];
    for (const [id, resource] of Object.entries(this.resources())) {
      const p = resource.Properties ?? {};
      const documents =
        resource.Type === 'AWS::IAM::Policy'
          ? [p.PolicyDocument]
          : resource.Type === 'AWS::IAM::Role'
            ? ((p.Policies ?? []) as { PolicyDocument: Json }[]).map((x) => x.PolicyDocument)
            : [];
      for (const document of documents) {
        for (const s of (document as { Statement: Record<string, Json>[] }).Statement) {
          statements.push({
            policy: withoutHash(id),
            actions: [s.Action].flat() as string[],
            resources: [s.Resource].flat().map((r) => this.render(r)),
          });
        }
      }
    }
    return statements;
  }

  /** Security group rules, one line each: `in {Group} from {Peer} tcp 6379`. */
  securityGroupRules(): string[] {
    const rules: string[] = [];
    const port = (r: Record<string, Json>) =>
      `${String(r.IpProtocol)} ${r.FromPort === r.ToPort ? String(r.FromPort) : `${String(r.FromPort)}-${String(r.ToPort)}`}`;
    const peer = (r: Record<string, Json>) =>
      r.CidrIp !== undefined
        ? this.render(r.CidrIp)
        : r.CidrIpv6 !== undefined
          ? this.render(r.CidrIpv6)
          : r.SourceSecurityGroupId !== undefined
            ? this.render(r.SourceSecurityGroupId)
            : this.render(r.DestinationSecurityGroupId);
    for (const [id, resource] of Object.entries(this.resources())) {
      const p = resource.Properties ?? {};
      if (resource.Type === 'AWS::EC2::SecurityGroup') {
        const group = `{${withoutHash(id)}.GroupId}`;
        for (const r of (p.SecurityGroupIngress ?? []) as Record<string, Json>[]) {
          rules.push(`in ${group} from ${peer(r)} ${port(r)}`);
        }
        for (const r of (p.SecurityGroupEgress ?? []) as Record<string, Json>[]) {
          rules.push(`out ${group} to ${peer(r)} ${port(r)}`);
        }
      }
      if (resource.Type === 'AWS::EC2::SecurityGroupIngress') {
        rules.push(`in ${this.render(p.GroupId)} from ${peer(p)} ${port(p)}`);
      }
      if (resource.Type === 'AWS::EC2::SecurityGroupEgress') {
        rules.push(`out ${this.render(p.GroupId)} to ${peer(p)} ${port(p)}`);
      }
    }
    return rules.sort();
  }
}
