/**
 * CloudFormation resource provider schemas for the infra tests, read by the update-safety
 * check's loader (tools/update-safety/classify.ts) from the pinned cfn-lint, whose venv
 * tools/python/venv.sh makes on first use: e.g. which properties are create-only, so that a
 * change to one replaces the resource
 * (https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { loadProviderSchemas, type ProviderSchemas } from '../../tools/update-safety/classify.ts';
import { repoRoot } from './repo-root.ts';

const loaded = new Map<string, ProviderSchemas>();

/** Every type's schema of `region`, once per test file; the venv is made first if need be. */
export function providerSchemas(region = 'eu-west-1'): ProviderSchemas {
  const known = loaded.get(region);
  if (known) return known;
  execFileSync(join(repoRoot, 'tools', 'python', 'venv.sh'), { timeout: 300_000 });
  const schemas = loadProviderSchemas(region);
  loaded.set(region, schemas);
  return schemas;
}

/** `['Name', 'KafkaVersionsList']`: the create-only property paths, nested ones `A/B`. */
export function createOnlyProperties(type: string, region = 'eu-west-1'): string[] {
  const schema = providerSchemas(region).get(type);
  if (!schema) throw new Error(`cfn-lint has no schema of ${type} in ${region}`);
  return schema.createOnly.map((path) => path.join('/'));
}
