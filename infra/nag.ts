/**
 * cdk-nag (v3) findings are acknowledged through CDK's Validations API, one finding id at a
 * time (`AwsSolutions-IAM5[Resource::*]`), always with the reason, on the construct that owns
 * the resource (or an ancestor of it).
 */
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export function acknowledge(scope: IConstruct, reason: string, ...findings: string[]): void {
  for (const id of findings) Validations.of(scope).acknowledge({ id, reason });
}
