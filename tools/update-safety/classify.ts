/**
 * What a deploy of one template over another does to each resource, as CloudFormation decides
 * it: none, update, replacement, added or removed. The rules come from the CloudFormation
 * resource provider schemas that the pinned cfn-lint ships (`createOnlyProperties`: a change to
 * one of them replaces the resource), and from how CloudFormation propagates a replacement: a
 * resource that refers to a replaced one (Ref, Fn::GetAtt, Fn::Sub, or an Fn::ImportValue of
 * another stack's export of it) gets a new value, so it is updated, or replaced when that
 * reference sits in one of its own create-only properties. DependsOn is ordering, not a value.
 *
 * On top of the classification, `findingsOf` names what would make such a deploy fail or lose
 * state: a replacement that keeps a fixed physical name, a stateful resource replaced, a Kafka
 * trigger's consumer group changed in place, a trigger re-created for the same event source
 * while the old one still exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UpdateSafetyError } from '../errors.ts';
import type { CfnResource, CfnTemplate } from './synth.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A property path as segments below `Properties`; `*` stands for every item of an array. */
type Path = string[];

export interface ProviderSchema {
  createOnly: Path[];
  readOnly: Path[];
  primaryIdentifier: Path[];
}

/** Provider schemas by resource type (`AWS::MSK::Configuration`). */
export type ProviderSchemas = Map<string, ProviderSchema>;

export type Change = 'none' | 'update' | 'replacement' | 'added' | 'removed';

export interface ResourceChange {
  logicalId: string;
  type: string;
  change: Change;
  /** Changed property paths (`AmazonManagedKafkaEventSourceConfig.ConsumerGroupId`). */
  properties: string[];
  reason: string;
}

/** The command that installs the pinned cfn-lint, and with it the schemas. */
export const venvCommand = 'tools/python/venv.sh';

/** cfn-lint's copy of the provider schemas, in the project's venv. */
export function schemasDirectory(root = repoRoot): string {
  const lib = join(root, '.tools', 'venv', 'lib');
  const pythons = existsSync(lib) ? readdirSync(lib).filter((d) => d.startsWith('python')) : [];
  for (const python of pythons) {
    const dir = join(lib, python, 'site-packages', 'cfnlint', 'data', 'schemas');
    if (existsSync(join(dir, 'providers'))) return dir;
  }
  throw new UpdateSafetyError(
    `cfn-lint's resource provider schemas are not installed (looked in .tools/venv/lib/python*/site-packages/cfnlint/data/schemas): run ${venvCommand}, which installs the pinned cfn-lint into .tools/venv`,
  );
}

/** `/properties/A/B` → ['A', 'B']. */
const pathOf = (pointer: string): Path => pointer.replace(/^\/properties\//, '').split('/');

/**
 * The provider schemas of every resource type of a region, as cfn-lint ships them:
 * providers/<region>.json maps a type to resources/<hash>.json.
 */
export function loadProviderSchemas(region = 'eu-west-1', root = repoRoot): ProviderSchemas {
  const dir = schemasDirectory(root);
  const providers = JSON.parse(
    readFileSync(join(dir, 'providers', `${region}.json`), 'utf8'),
  ) as Record<string, string>;
  const schemas: ProviderSchemas = new Map();
  const files = new Map<string, ProviderSchema>();
  for (const [type, hash] of Object.entries(providers)) {
    let schema = files.get(hash);
    if (!schema) {
      const raw = JSON.parse(readFileSync(join(dir, 'resources', `${hash}.json`), 'utf8')) as {
        createOnlyProperties?: string[];
        readOnlyProperties?: string[];
        primaryIdentifier?: string[];
      };
      schema = {
        createOnly: (raw.createOnlyProperties ?? []).map(pathOf),
        readOnly: (raw.readOnlyProperties ?? []).map(pathOf),
        primaryIdentifier: (raw.primaryIdentifier ?? []).map(pathOf),
      };
      files.set(hash, schema);
    }
    schemas.set(type, schema);
  }
  return schemas;
}

const isIntrinsic = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || (keys[0] ?? '').startsWith('Fn::'));
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** `['A', '0', 'B']` → `A[0].B`. */
export const formatPath = (path: Path): string =>
  path.reduce(
    (text, s) => (/^\d+$|^\*$/.test(s) ? `${text}[${s}]` : text ? `${text}.${s}` : s),
    '',
  );

/**
 * The paths where two property values differ: into objects and same-length arrays; an
 * intrinsic function (Ref, Fn::…) is one value.
 */
export function changedPaths(before: unknown, after: unknown, path: Path = []): Path[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (isObject(before) && isObject(after) && !isIntrinsic(before) && !isIntrinsic(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].sort().flatMap((k) => changedPaths(before[k], after[k], [...path, k]));
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, i) => changedPaths(item, after[i], [...path, String(i)]));
  }
  return [path];
}

/** The values at a path (`*` takes every item of an array); undefined where it is absent. */
function valuesAt(value: unknown, path: Path): unknown[] {
  if (path.length === 0) return [value];
  const [head, ...rest] = path as [string, ...string[]];
  if (head === '*') return Array.isArray(value) ? value.flatMap((v) => valuesAt(v, rest)) : [];
  if (isObject(value) && !isIntrinsic(value)) return valuesAt(value[head], rest);
  if (Array.isArray(value) && /^\d+$/.test(head)) return valuesAt(value[Number(head)], rest);
  return [undefined];
}

/** Whether one path (either may hold `*`) is a prefix of the other. */
function overlaps(a: Path, b: Path): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const [x, y] = [a[i], b[i]];
    if (x !== y && x !== '*' && y !== '*') return false;
  }
  return true;
}

/** The create-only paths whose values differ between the two property sets. */
function changedCreateOnly(
  schema: ProviderSchema,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Path[] {
  return schema.createOnly.filter(
    (p) => JSON.stringify(valuesAt(before, p)) !== JSON.stringify(valuesAt(after, p)),
  );
}

/** A reference a resource's properties make, and where it sits. */
export interface Reference {
  path: Path;
  /** A logical id of the same template, or `import:<export name>`. */
  target: string;
}

/** Every Ref, Fn::GetAtt, Fn::Sub variable and Fn::ImportValue in a value. */
export function referencesIn(value: unknown, path: Path = []): Reference[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => referencesIn(v, [...path, String(i)]));
  if (!isObject(value)) return [];
  if (isIntrinsic(value)) {
    const [[fn, arg]] = Object.entries(value) as [[string, unknown]];
    if (fn === 'Ref' && typeof arg === 'string' && !arg.startsWith('AWS::')) {
      return [{ path, target: arg }];
    }
    if (fn === 'Fn::GetAtt') {
      const id = Array.isArray(arg) ? arg[0] : typeof arg === 'string' ? arg.split('.')[0] : '';
      return typeof id === 'string' && id ? [{ path, target: id }] : [];
    }
    if (fn === 'Fn::ImportValue' && typeof arg === 'string') {
      return [{ path, target: `import:${arg}` }];
    }
    if (fn === 'Fn::Sub') return subReferences(arg, path);
    return referencesIn(arg, path);
  }
  return Object.entries(value).flatMap(([k, v]) => referencesIn(v, [...path, k]));
}

/** `${Name}` and `${Name.Attr}` of an Fn::Sub, less its own variables and pseudo parameters. */
function subReferences(arg: unknown, path: Path): Reference[] {
  const [text, variables] = Array.isArray(arg) ? arg : [arg, {}];
  const own = isObject(variables) ? variables : {};
  const names = typeof text === 'string' ? [...text.matchAll(/\$\{([^}!]+)\}/g)] : [];
  return [
    ...names
      .map((m) => (m[1] ?? '').split('.')[0] ?? '')
      .filter((name) => name && !name.startsWith('AWS::') && !(name in own))
      .map((target) => ({ path, target })),
    ...referencesIn(own, path),
  ];
}

/** Resource attributes whose change alone leaves the resource as it is. */
const policyAttributes = ['DeletionPolicy', 'UpdateReplacePolicy'] as const;

export interface ClassifyOptions {
  /**
   * Exports (by name) of other stacks whose value this deploy changes: an Fn::ImportValue of
   * one is a reference to a replaced resource.
   */
  changedImports?: ReadonlySet<string>;
}

/**
 * One entry per logical id of either template. A type unknown to the schemas (Custom::…,
 * AWS::CDK::Metadata) is classified by its property differences alone, and says so.
 */
export function classifyTemplates(
  before: CfnTemplate,
  after: CfnTemplate,
  schemas: ProviderSchemas,
  options: ClassifyOptions = {},
): ResourceChange[] {
  const old = before.Resources ?? {};
  const now = after.Resources ?? {};
  const ids = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
  const changes = new Map<string, ResourceChange>();
  for (const id of ids) changes.set(id, directChange(id, old[id], now[id], schemas));
  propagateReplacements(now, changes, schemas, options.changedImports ?? new Set());
  return ids.map((id) => changes.get(id) as ResourceChange);
}

/** What a resource's own template change does to it, before propagation. */
function directChange(
  logicalId: string,
  before: CfnResource | undefined,
  after: CfnResource | undefined,
  schemas: ProviderSchemas,
): ResourceChange {
  if (!before || !after) {
    const resource = (after ?? before) as CfnResource;
    const change = after ? 'added' : 'removed';
    return { logicalId, type: resource.Type, change, properties: [], reason: change };
  }
  const type = after.Type;
  if (before.Type !== type) {
    const reason = `type changed from ${before.Type}: a new resource`;
    return { logicalId, type, change: 'replacement', properties: ['Type'], reason };
  }
  const [p0, p1] = [before.Properties ?? {}, after.Properties ?? {}];
  const properties = changedPaths(p0, p1).map(formatPath);
  const schema = schemas.get(type);
  const unknown = schema
    ? ''
    : ` (${type} has no provider schema: classified by its property differences, without create-only knowledge)`;
  const createOnly = schema ? changedCreateOnly(schema, p0, p1) : [];
  if (createOnly.length > 0) {
    const names = createOnly.map(formatPath).join(', ');
    return {
      logicalId,
      type,
      change: 'replacement',
      properties,
      reason: `create-only ${names} changed`,
    };
  }
  if (properties.length > 0) {
    return {
      logicalId,
      type,
      change: 'update',
      properties,
      reason: `properties changed${unknown}`,
    };
  }
  const policies = policyAttributes
    .filter((a) => JSON.stringify(before[a]) !== JSON.stringify(after[a]))
    .map((a) => `${a} ${String(before[a] ?? 'Delete')} → ${String(after[a] ?? 'Delete')}`);
  const reason =
    policies.length > 0
      ? `${policies.join(', ')} (the resource itself is not touched)`
      : `unchanged${unknown}`;
  return { logicalId, type, change: 'none', properties: [], reason };
}

/**
 * A replaced resource gets a new physical id and new attributes, so whatever refers to it gets
 * a new value: an update, or a replacement when the reference sits in a create-only property
 * of the referrer. Repeated until nothing changes (a chain of replacements).
 */
function propagateReplacements(
  resources: Record<string, CfnResource>,
  changes: Map<string, ResourceChange>,
  schemas: ProviderSchemas,
  changedImports: ReadonlySet<string>,
): void {
  const refs = new Map(
    Object.entries(resources).map(([id, r]) => [id, referencesIn(r.Properties ?? {})]),
  );
  const replaced = (target: string) =>
    target.startsWith('import:')
      ? changedImports.has(target.slice('import:'.length))
      : changes.get(target)?.change === 'replacement';
  let changed = true;
  while (changed) {
    changed = false;
    for (const [id, references] of refs) {
      const entry = changes.get(id) as ResourceChange;
      if (entry.change === 'added' || entry.change === 'replacement') continue;
      const hits = references.filter((r) => replaced(r.target));
      if (hits.length === 0) continue;
      const createOnly = schemas.get(entry.type)?.createOnly ?? [];
      const inCreateOnly = hits.filter((h) => createOnly.some((c) => overlaps(c, h.path)));
      const targets = [...new Set(hits.map((h) => h.target.replace(/^import:/, 'export ')))];
      const properties = [
        ...new Set([...entry.properties, ...hits.map((h) => formatPath(h.path))]),
      ];
      if (inCreateOnly.length > 0) {
        const where = [...new Set(inCreateOnly.map((h) => formatPath(h.path)))].join(', ');
        const reason = `create-only ${where} refers to replaced ${targets.join(', ')}`;
        changes.set(id, { ...entry, change: 'replacement', properties, reason });
        changed = true;
      } else if (entry.change === 'none' || entry.properties.length !== properties.length) {
        const reason = `${entry.change === 'update' ? `${entry.reason}; ` : ''}refers to replaced ${targets.join(', ')}`;
        changes.set(id, { ...entry, change: 'update', properties, reason });
      }
    }
  }
}

/**
 * Create-only properties ending in `Name` that name something else: the AWS service of an
 * endpoint, the snapshot a cache is restored from.
 */
const notNames: Record<string, string[]> = {
  'AWS::EC2::VPCEndpoint': ['ServiceName'],
  'AWS::ElastiCache::ReplicationGroup': ['SnapshotName'],
  'AWS::ElastiCache::ServerlessCache': ['SnapshotArnsToRestore'],
};

/**
 * The properties that name a resource of a type, read from its schema: a top-level property
 * that is (part of) the primaryIdentifier and not read-only (the caller chooses it:
 * ReplicationGroupId, UserId, UserGroupId, FunctionName, RoleName, LogGroupName, AliasName…),
 * or a top-level create-only property whose name ends in `Name` (ClusterName, Name, TopicName,
 * UserName, AlarmName…), less `notNames`.
 */
export function namingProperties(type: string, schemas: ProviderSchemas): string[] {
  const schema = schemas.get(type);
  if (!schema) return [];
  const readOnly = new Set(schema.readOnly.map(formatPath));
  const topLevel = (p: Path) => (p.length === 1 ? [p[0] as string] : []);
  const identifier = schema.primaryIdentifier.flatMap(topLevel).filter((p) => !readOnly.has(p));
  const named = schema.createOnly.flatMap(topLevel).filter((p) => p.endsWith('Name'));
  const excluded = new Set(notNames[type] ?? []);
  return [...new Set([...identifier, ...named])].filter((p) => !excluded.has(p)).sort();
}

/**
 * The fixed physical name of a resource: the values of its naming properties that the
 * template sets, unless a value is only a reference to another resource (a Version's
 * FunctionName names its function, not the version). Undefined when CloudFormation names it.
 */
export function fixedName(
  resource: CfnResource,
  schemas: ProviderSchemas,
): Record<string, unknown> | undefined {
  const set: Record<string, unknown> = {};
  for (const property of namingProperties(resource.Type, schemas)) {
    const value = resource.Properties?.[property];
    if (value === undefined) continue;
    if (
      isIntrinsic(value) &&
      ['Ref', 'Fn::GetAtt', 'Fn::ImportValue'].includes(Object.keys(value)[0] as string)
    )
      continue;
    set[property] = value;
  }
  return Object.keys(set).length > 0 ? set : undefined;
}

/**
 * Types whose replacement loses state or access, so a documented change may replace one only
 * where the docs say so and what it costs. Beyond the brokers, the cache, its users and user
 * group, the secret and the key: an MSK topic (its records are the events) and a log group (a
 * replacement starts an empty group, and without retainData deletes the old one with its
 * history: what each function did, and why a batch failed).
 */
export const statefulTypes: Record<string, string> = {
  'AWS::MSK::Cluster': 'the brokers and every topic on them',
  'AWS::MSK::ServerlessCluster': 'the cluster and every topic on it',
  'AWS::MSK::Topic': 'the topic and its records',
  'AWS::ElastiCache::ReplicationGroup': 'the cache and all its state',
  'AWS::ElastiCache::ServerlessCache': 'the cache and all its state',
  'AWS::ElastiCache::User': "the functions' login",
  'AWS::ElastiCache::UserGroup': "the cache's access control",
  'AWS::SecretsManager::Secret': 'the password the functions read',
  'AWS::KMS::Key': 'the key the brokers, cache and secrets are encrypted with',
  'AWS::Logs::LogGroup': 'the log history',
};

/** A stack of the app, and what a deploy does to it. */
export interface StackChanges {
  stack: string;
  /**
   * `changed`: the stack is in both (its resources classified); `new`: only after, a new
   * deployment beside the old one (a renamed stack: every resource added); `gone`: only before
   * (CloudFormation leaves it as it is until someone destroys it).
   */
  status: 'changed' | 'new' | 'gone';
  before: CfnTemplate | undefined;
  after: CfnTemplate | undefined;
  changes: ResourceChange[];
  /** Exports of this stack whose value the deploy changes. */
  changedExports: string[];
}

/** Templates by stack name. */
export type Stacks = Record<string, CfnTemplate>;

/**
 * Every stack's changes. A replacement in one stack reaches another through its exports:
 * repeated until the set of changed exports settles.
 */
export function classifyStacks(
  before: Stacks,
  after: Stacks,
  schemas: ProviderSchemas,
): StackChanges[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  let changedImports = new Set<string>();
  let result: StackChanges[] = [];
  for (let pass = 0; pass <= names.length; pass++) {
    result = names.map((stack) =>
      stackChanges(stack, before[stack], after[stack], schemas, changedImports),
    );
    const next = new Set(result.flatMap((s) => s.changedExports));
    if (next.size === changedImports.size) break;
    changedImports = next;
  }
  return result;
}

function stackChanges(
  stack: string,
  before: CfnTemplate | undefined,
  after: CfnTemplate | undefined,
  schemas: ProviderSchemas,
  changedImports: ReadonlySet<string>,
): StackChanges {
  const status = before && after ? 'changed' : after ? 'new' : 'gone';
  const changes = classifyTemplates(before ?? {}, after ?? {}, schemas, { changedImports });
  const changedExports =
    before && after ? exportsChanged(before, after, changes, changedImports) : [];
  return { stack, status, before, after, changes, changedExports };
}

/** Export name → value. */
function exportsOf(template: CfnTemplate): Map<string, unknown> {
  const exports = new Map<string, unknown>();
  for (const output of Object.values(template.Outputs ?? {})) {
    if (typeof output.Export?.Name === 'string') exports.set(output.Export.Name, output.Value);
  }
  return exports;
}

/** Exports in both templates whose value differs, or refers to a replaced resource. */
function exportsChanged(
  before: CfnTemplate,
  after: CfnTemplate,
  changes: ResourceChange[],
  changedImports: ReadonlySet<string>,
): string[] {
  const old = exportsOf(before);
  const replaced = new Set(
    changes.filter((c) => c.change === 'replacement').map((c) => c.logicalId),
  );
  return [...exportsOf(after)]
    .filter(([name, value]) => {
      if (!old.has(name)) return false;
      if (JSON.stringify(old.get(name)) !== JSON.stringify(value)) return true;
      return referencesIn(value).some((r) =>
        r.target.startsWith('import:')
          ? changedImports.has(r.target.slice(7))
          : replaced.has(r.target),
      );
    })
    .map(([name]) => name);
}

export type Rule =
  | 'fixed-name'
  | 'stateful'
  | 'consumer-group'
  | 'duplicate-trigger'
  | 'export-in-use'
  | 'name-taken';

export interface Finding {
  stack: string;
  logicalId: string;
  rule: Rule;
  message: string;
}

/** Where each rule comes from. */
export const ruleSources: Record<Rule, string> = {
  'fixed-name':
    'https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html',
  stateful: 'docs/deploying.md, "What each change does to your deployment"',
  'consumer-group': 'https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html',
  'duplicate-trigger':
    'https://docs.aws.amazon.com/lambda/latest/dg/API_CreateEventSourceMapping.html',
  'export-in-use':
    'https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html',
  'name-taken':
    'https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html',
};

const esmType = 'AWS::Lambda::EventSourceMapping';

/** The consumer group a Kafka trigger joins (MSK, or self-managed Kafka), as JSON. */
function consumerGroupOf(resource: CfnResource | undefined): string {
  const p = resource?.Properties ?? {};
  return JSON.stringify([
    p.AmazonManagedKafkaEventSourceConfig,
    p.SelfManagedKafkaEventSourceConfig,
  ]);
}

/** The consumer group id for a message. */
function groupIdOf(resource: CfnResource | undefined): string {
  const p = resource?.Properties ?? {};
  const config = (p.AmazonManagedKafkaEventSourceConfig ?? p.SelfManagedKafkaEventSourceConfig) as
    | { ConsumerGroupId?: unknown }
    | undefined;
  return config?.ConsumerGroupId === undefined ? 'none' : JSON.stringify(config.ConsumerGroupId);
}

/** What Lambda allows one mapping for: the function, the event source and the topics. */
function triggerKey(resource: CfnResource | undefined): string {
  const p = resource?.Properties ?? {};
  return JSON.stringify([p.FunctionName, p.EventSourceArn, p.SelfManagedEventSource, p.Topics]);
}

/**
 * What a resource's name is unique within, besides the account and region: the resources its
 * create-only properties refer to (an MSK topic's cluster, an alias's function). A name is
 * taken only within the same scope.
 */
export function scopeOf(resource: CfnResource, schemas: ProviderSchemas): string[] {
  const createOnly = schemas.get(resource.Type)?.createOnly ?? [];
  return referencesIn(resource.Properties ?? {})
    .filter((r) => createOnly.some((c) => overlaps(c, r.path)))
    .map((r) => r.target);
}

/**
 * What would make the deploy fail or lose state. `documented(stack, change)` says whether the
 * docs state a stateful replacement and what it costs.
 */
export function findingsOf(
  stacks: StackChanges[],
  schemas: ProviderSchemas,
  documented: (stack: string, change: ResourceChange) => boolean = () => false,
): Finding[] {
  const findings: Finding[] = [];
  const changedImports = new Set(stacks.flatMap((s) => s.changedExports.map((e) => `import:${e}`)));
  for (const s of stacks.filter((x) => x.status === 'changed')) {
    const add = (c: ResourceChange, rule: Rule, text: string) =>
      findings.push({
        stack: s.stack,
        logicalId: c.logicalId,
        rule,
        message: `${s.stack} ${c.logicalId} (${c.type}) ${text} (${ruleSources[rule]})`,
      });
    for (const c of s.changes) {
      for (const [rule, text] of resourceFindings(s, c, schemas, documented, changedImports)) {
        add(c, rule, text);
      }
    }
    findings.push(...duplicateTriggers(s), ...exportsInUse(s, stacks));
  }
  return [...findings, ...namesTaken(stacks, schemas)];
}

/** The findings of one resource's change: rule and text. */
function resourceFindings(
  s: StackChanges,
  c: ResourceChange,
  schemas: ProviderSchemas,
  documented: (stack: string, change: ResourceChange) => boolean,
  changedImports: ReadonlySet<string>,
): [Rule, string][] {
  const b = s.before?.Resources?.[c.logicalId];
  const a = s.after?.Resources?.[c.logicalId];
  if (!b || !a) return [];
  const found: [Rule, string][] = [];
  if (c.change === 'replacement') {
    const [nb, na] = [fixedName(b, schemas), fixedName(a, schemas)];
    const replaced = new Set(
      s.changes.filter((x) => x.change === 'replacement').map((x) => x.logicalId),
    );
    const newScope = scopeOf(a, schemas).some((t) => replaced.has(t) || changedImports.has(t));
    if (nb && JSON.stringify(nb) === JSON.stringify(na) && !newScope) {
      found.push([
        'fixed-name',
        `is replaced (${c.reason}) but keeps its fixed name ${JSON.stringify(na)}: CloudFormation cannot replace a custom-named resource without a new name`,
      ]);
    }
    // The old resource's type: a stateful one replaced by another type is lost all the same.
    const lost = statefulTypes[b.Type] ?? statefulTypes[a.Type];
    if (lost && !documented(s.stack, c)) {
      found.push([
        'stateful',
        `is replaced (${c.reason}), losing ${lost}, and the docs do not say so and what it costs`,
      ]);
    }
    // On a replaced cluster the new mapping has a new event source: no conflict.
    if (c.type === esmType && triggerKey(b) === triggerKey(a) && !newScope) {
      found.push([
        'duplicate-trigger',
        'is replaced: CloudFormation creates the new mapping first, and Lambda refuses a second mapping of the same function, event source and topics (ResourceConflictException)',
      ]);
    }
  }
  if (c.type === esmType && c.change === 'update' && consumerGroupOf(b) !== consumerGroupOf(a)) {
    found.push([
      'consumer-group',
      `changes its consumer group in place (${groupIdOf(b)} → ${groupIdOf(a)}): Lambda cannot update a mapping's consumer group id`,
    ]);
  }
  return found;
}

/** A mapping removed and another added for the same function, event source and topics. */
function duplicateTriggers(s: StackChanges): Finding[] {
  const removed = s.changes.filter((c) => c.type === esmType && c.change === 'removed');
  const added = s.changes.filter((c) => c.type === esmType && c.change === 'added');
  return added.flatMap((a) => {
    const key = triggerKey(s.after?.Resources?.[a.logicalId]);
    const old = removed.find((r) => triggerKey(s.before?.Resources?.[r.logicalId]) === key);
    if (!old) return [];
    const message = `${s.stack} ${a.logicalId} (${esmType}) is added while ${old.logicalId} for the same function, event source and topics is removed: CloudFormation creates the new mapping first, and Lambda refuses a second one (ResourceConflictException) (${ruleSources['duplicate-trigger']})`;
    return [
      { stack: s.stack, logicalId: a.logicalId, rule: 'duplicate-trigger' as const, message },
    ];
  });
}

/** Exports whose value changes while another stack imports them. */
function exportsInUse(s: StackChanges, stacks: StackChanges[]): Finding[] {
  return s.changedExports.flatMap((name) => {
    const importers = stacks.filter(
      (o) =>
        o.stack !== s.stack &&
        o.before &&
        JSON.stringify(o.before.Resources ?? {}).includes(
          JSON.stringify({ 'Fn::ImportValue': name }),
        ),
    );
    return importers.map((o) => ({
      stack: s.stack,
      logicalId: name,
      rule: 'export-in-use' as const,
      message: `${s.stack} export ${name} changes its value while ${o.stack} imports it: CloudFormation refuses to modify an export in use (${ruleSources['export-in-use']})`,
    }));
  });
}

/**
 * A renamed stack is a new deployment beside the old one, which stays until destroyed: none
 * of its fixed names, and none of its triggers' consumer groups (unique among all your Kafka
 * event sources, ruleSources['consumer-group']), may be one the old deployment holds.
 */
function namesTaken(stacks: StackChanges[], schemas: ProviderSchemas): Finding[] {
  const resources = (status: StackChanges['status']) =>
    stacks
      .filter((s) => s.status === status)
      .flatMap((s) =>
        Object.entries((status === 'new' ? s.after : s.before)?.Resources ?? {}).map(([id, r]) => ({
          stack: s.stack,
          id,
          r,
        })),
      );
  const identity = (r: CfnResource) =>
    r.Type === esmType
      ? `group ${consumerGroupOf(r)}`
      : `${r.Type} ${JSON.stringify(fixedName(r, schemas) ?? null)}`;
  const named = (r: CfnResource) =>
    r.Type === esmType ? consumerGroupOf(r) !== consumerGroupOf(undefined) : fixedName(r, schemas);
  const held = new Map(
    resources('gone')
      .filter(({ r }) => named(r))
      .map((x) => [identity(x.r), x]),
  );
  return resources('new').flatMap(({ stack, id, r }) => {
    const old =
      named(r) && (r.Type === esmType || scopeOf(r, schemas).length === 0)
        ? held.get(identity(r))
        : undefined;
    if (!old) return [];
    const rule: Rule = r.Type === esmType ? 'consumer-group' : 'name-taken';
    const what =
      r.Type === esmType
        ? `joins consumer group ${groupIdOf(r)}`
        : `takes the name ${JSON.stringify(fixedName(r, schemas))}`;
    return [
      {
        stack,
        logicalId: id,
        rule,
        message: `${stack} ${id} (${r.Type}) ${what}, which ${old.stack} ${old.id} still holds (${ruleSources[rule]})`,
      },
    ];
  });
}
