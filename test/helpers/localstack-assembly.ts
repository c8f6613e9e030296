/**
 * The LocalStack stage's cloud assembly without its Lambda functions, for a LocalStack that
 * cannot create them (host mode: no Docker, docs/deploying.md, "LocalStack"). Every other resource stays as
 * synthesized; what referred to a function (the schedule's target, its role's policy, the
 * Errors/Throttles/duration alarms, the dashboard) gets the function's name and ARN as text
 * instead, which are fixed (`<prefix>-<verb-noun>`). The template asset's hash is renamed with
 * it, so cdk-assets uploads the new template instead of finding the old one under the old key.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
}

/** Replaces every Ref / Fn::GetAtt of the removed functions with their name / ARN. */
function rewire(value: unknown, names: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => rewire(item, names));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  const ref = object.Ref;
  if (typeof ref === 'string' && names.has(ref)) return names.get(ref);
  const getAtt = object['Fn::GetAtt'];
  if (Array.isArray(getAtt) && names.has(getAtt[0] as string)) {
    if (getAtt[1] !== 'Arn') throw new Error(`unexpected Fn::GetAtt ${getAtt.join('.')}`);
    return {
      'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${names.get(getAtt[0] as string)}`,
    };
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, rewire(v, names)]));
}

/**
 * Rewrites `stackName`'s template in the assembly at `dir` in place; returns the logical ids of
 * the functions it took out.
 */
export function removeFunctions(dir: string, stackName: string): string[] {
  const templateFile = join(dir, `${stackName}.template.json`);
  const text = readFileSync(templateFile, 'utf8');
  const template = JSON.parse(text) as { Resources: Record<string, Resource> };
  const names = new Map<string, string>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const name = resource.Properties?.FunctionName;
    if (typeof name !== 'string') throw new Error(`function ${id} has no fixed FunctionName`);
    names.set(id, name);
  }
  const resources: Record<string, Resource> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (names.has(id)) continue;
    const rewired = rewire(resource, names) as Resource;
    if (rewired.DependsOn !== undefined) {
      const dependsOn = [rewired.DependsOn].flat().filter((d) => !names.has(d));
      if (dependsOn.length > 0) rewired.DependsOn = dependsOn;
      else delete rewired.DependsOn;
    }
    resources[id] = rewired;
  }
  const rewritten = JSON.stringify({ ...template, Resources: resources }, null, 1);
  writeFileSync(templateFile, rewritten);

  const oldHash = createHash('sha256').update(text).digest('hex');
  const newHash = createHash('sha256').update(rewritten).digest('hex');
  for (const file of ['manifest.json', `${stackName}.assets.json`]) {
    const path = join(dir, file);
    const manifest = readFileSync(path, 'utf8');
    if (!manifest.includes(oldHash)) throw new Error(`${file} does not name the template's hash`);
    writeFileSync(path, manifest.replaceAll(oldHash, newHash));
  }
  return [...names.keys()];
}
