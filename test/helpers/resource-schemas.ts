/**
 * CloudFormation resource provider schemas, as cfn-lint ships them (its
 * data/schemas/providers/<region>.json maps a resource type to resources/<hash>.json): what a
 * resource type says of its properties, e.g. which ones are create-only, so that a change to one
 * replaces the resource
 * (https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './repo-root.ts';

interface ResourceSchema {
  createOnlyProperties?: string[];
  properties: Record<string, unknown>;
}

let folder: string | undefined;

/** The cfn-lint package of the test virtualenv, which tools/python/venv.sh makes on first use. */
function schemasFolder(): string {
  if (folder) return folder;
  const bin = execFileSync(join(repoRoot, 'tools', 'python', 'venv.sh'), {
    encoding: 'utf8',
    timeout: 300_000,
  }).trim();
  const lib = join(dirname(bin), 'lib');
  const python = readdirSync(lib).find((name) => name.startsWith('python'));
  if (!python) throw new Error(`no python under ${lib}`);
  folder = join(lib, python, 'site-packages', 'cfnlint', 'data', 'schemas');
  return folder;
}

export function resourceSchema(type: string, region = 'eu-west-1'): ResourceSchema {
  const schemas = schemasFolder();
  const types = JSON.parse(
    readFileSync(join(schemas, 'providers', `${region}.json`), 'utf8'),
  ) as Record<string, string>;
  const hash = types[type];
  if (!hash) throw new Error(`cfn-lint has no schema of ${type} in ${region}`);
  return JSON.parse(
    readFileSync(join(schemas, 'resources', `${hash}.json`), 'utf8'),
  ) as ResourceSchema;
}

/** `['Name', 'KafkaVersionsList']`: the create-only property paths, without `/properties/`. */
export function createOnlyProperties(type: string, region = 'eu-west-1'): string[] {
  return (resourceSchema(type, region).createOnlyProperties ?? []).map((path) =>
    path.replace(/^\/properties\//, ''),
  );
}
