/**
 * The documented changes to a running deployment (docs/deploying.md, "Settings"), each as the
 * CDK context before and after, and the replacements of stateful resources the docs state with
 * their cost. `checkScenarios` synthesizes both sides of each, classifies every stack's
 * resources (classify.ts) and names the findings; test/infra/update-safety.test.ts fails on any,
 * and table.ts writes the table of docs/deploying.md from the same results.
 */
import {
  classifyStacks,
  type Finding,
  findingsOf,
  type ProviderSchemas,
  type ResourceChange,
  type StackChanges,
  type Stacks,
} from './classify.ts';

export interface Scenario {
  /** The change, as the table's first column says it. */
  name: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  /** What the change costs beyond the resources it touches, for the table. */
  note?: string;
}

/**
 * What every scenario starts from: the defaults, with someone paged (a deployment that pages
 * nobody is a decision of its own, issue 25; this keeps the baseline valid either way).
 */
export const baseline: Record<string, unknown> = {
  paging: { emails: ['oncall@bank.example'] },
};

const withBaseline = (context: Record<string, unknown>) => ({ ...baseline, ...context });

const change = (
  name: string,
  after: Record<string, unknown>,
  before: Record<string, unknown> = {},
  note?: string,
): Scenario => ({
  name,
  before: withBaseline(before),
  after: withBaseline(after),
  ...(note ? { note } : {}),
});

const twoTopics = { topics: ['seqguard.events', 'seqguard.audit'] };

export const scenarios: Scenario[] = [
  change('add a topic', twoTopics),
  change('remove a topic', {}, twoTopics),
  change('change the batch size', { eventSource: { batchSize: 1000 } }),
  change('change the batching window', { eventSource: { maxBatchingWindowSeconds: 5 } }),
  change('change the pollers', { eventSource: { minimumPollers: 2, maximumPollers: 6 } }),
  change(
    'turn low-latency mode on',
    { eventSource: { lowLatency: true } },
    {},
    'more invocations, each with fewer records',
  ),
  change(
    'turn provisioned concurrency on',
    { provisionedConcurrency: 2 },
    {},
    'provisioned concurrency is billed while configured ([Provisioned concurrency](#settings))',
  ),
  change('change `kafkaVersion`', { kafka: { kafkaVersion: '3.9.x' } }),
  change('change the broker instance type', { kafka: { brokerInstanceType: 'kafka.m7g.xlarge' } }),
  change('change the Redis engine version', { redis: { engineVersion: '8.1' } }),
  change('add a shard', { redis: { shards: 2 } }),
  change('add a replica', { redis: { replicasPerShard: 2 } }),
  change('change the cache node type', { redis: { nodeType: 'cache.r7g.large' } }),
  change(
    'turn `retainData` off',
    { retainData: false },
    {},
    'nothing now; from then on `cdk destroy` deletes the brokers, the cache, the key, the secrets and the logs ([Tear down](#tear-down)), and the data stack is no longer termination-protected',
  ),
  change(
    'turn `retainData` on',
    {},
    { retainData: false },
    'nothing now; from then on `cdk destroy` keeps them, and the data stack is termination-protected',
  ),
  change(
    'change the paging targets',
    {
      paging: {
        emails: ['oncall-2@bank.example'],
        pagerDutyUrl: 'https://events.pagerduty.com/integration/abc123/enqueue',
      },
    },
    {},
    'a new e-mail address receives nothing until it confirms its subscription',
  ),
  change(
    'change the `prefix`',
    { prefix: 'seqguard2' },
    {},
    'a second deployment, billed as the first, until you destroy the old stacks (with `retainData` on their data stays: [Tear down](#tear-down))',
  ),
];

/**
 * Replacements of stateful resources that a documented change makes on purpose, each with what
 * it costs (the sentence lands in the table). `resource` is the logical id without its hash.
 */
export interface DocumentedReplacement {
  scenario: string;
  resource: string;
  cost: string;
}

export const documentedReplacements: DocumentedReplacement[] = [];

/**
 * `PipelineApplyEventsKafkaTrigger07D215B35` → `PipelineApplyEventsKafkaTrigger0`: the logical id
 * without the hash CDK appends, and without the code hash of a function's current version.
 */
export const logicalIdRoot = (logicalId: string) =>
  logicalId.replace(/[0-9A-F]{8}(?:[0-9a-f]{32})?$/, '');

export interface ScenarioResult {
  scenario: Scenario;
  stacks: StackChanges[];
  findings: Finding[];
}

/** The templates of every stack for a context (synthTemplates, or the tests' synthApp). */
export type Synthesize = (context: Record<string, unknown>) => Stacks;

/** Each scenario classified; a context is synthesized once (the baseline is shared). */
export function checkScenarios(
  synthesize: Synthesize,
  schemas: ProviderSchemas,
  list: Scenario[] = scenarios,
): ScenarioResult[] {
  const cache = new Map<string, Stacks>();
  const synth = (context: Record<string, unknown>) => {
    const key = JSON.stringify(context);
    let stacks = cache.get(key);
    if (!stacks) {
      stacks = synthesize(context);
      cache.set(key, stacks);
    }
    return stacks;
  };
  return list.map((scenario) => {
    const stacks = classifyStacks(synth(scenario.before), synth(scenario.after), schemas);
    const documented = (_stack: string, c: ResourceChange) =>
      documentedReplacements.some(
        (d) => d.scenario === scenario.name && d.resource === logicalIdRoot(c.logicalId),
      );
    return { scenario, stacks, findings: findingsOf(stacks, schemas, documented) };
  });
}
