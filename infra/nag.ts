/**
 * cdk-nag (v3) findings are acknowledged through CDK's Validations API, one finding id at a
 * time (`AwsSolutions-IAM5[Resource::*]`), always with the reason, on the construct that owns
 * the resource (or an ancestor of it).
 */
import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export function acknowledge(scope: IConstruct, reason: string, ...findings: string[]): void {
  for (const finding of findings) {
    Validations.of(scope).acknowledge({ id: findingId(scope, finding), reason });
  }
}

/**
 * A finding id as cdk-nag writes it. An id that holds a token (an ARN with the partition, region
 * or account of an app without the feature flags that make them literals) names the resource as
 * cdk-nag renders it, `arn:<AWS::Partition>:…`, and cannot stay a token: finding ids are map keys.
 */
function findingId(scope: IConstruct, finding: string): string {
  if (!Token.isUnresolved(finding)) return finding;
  return flatten(Stack.of(scope).resolve(finding));
}

/** cdk-nag's own rendering of an intrinsic (its utils/flatten-cfn-reference). */
function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const value = node as Record<string, unknown>;
  if ('Fn::Join' in value) {
    const [delimiter, items] = value['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(delimiter);
  }
  if ('Fn::Sub' in value) return flatten(value['Fn::Sub']);
  if ('Fn::GetAtt' in value) {
    const [resource, attribute] = value['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if ('Fn::ImportValue' in value) return flatten(value['Fn::ImportValue']);
  if ('Ref' in value) return `<${flatten(value.Ref)}>`;
  return JSON.stringify(node);
}
