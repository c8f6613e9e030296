/**
 * ElastiCache cost per million events, derived from what the apply benchmark measured for each
 * design: the Redis engine's CPU per event (what a node-based cluster is sized by) and the
 * requests, script time and bytes per event (what ElastiCache Serverless bills as ECPUs).
 *
 * Node-based: a shard's primary runs commands on one engine thread, so a design that needs
 * `c` CPU-seconds per million events keeps a shard busy for `c / utilization` seconds of node
 * time per million events, and every node of the shard (primary and replicas) is paid for that
 * time: cost = c / utilization × nodesPerShard × hourly price / 3600.
 *
 * Serverless: "ECPUs, a unit that includes both vCPU time and data transferred. Reads and writes
 * require 1 ECPU for each kilobyte (KB) of data transferred. [...] Commands that require
 * additional vCPU time or transfer more than 1 KB of data will consume proportionally more
 * ECPUs" (https://aws.amazon.com/elasticache/pricing/, "ElastiCache Processing Units"), metered
 * in 1 KB increments, so a request that moves less still counts one ECPU. How much
 * vCPU time one ECPU is, AWS does not publish; its own estimator
 * (aws-samples/amazon-elasticache-samples, tools/serverless-cost-calculator/cost-calculator.py)
 * counts a script as EvalBasedCmdsLatency / 2, i.e. one ECPU per 2 µs of script time, and that
 * is the figure used here. So: each plain request costs max(1, its KB), each script call
 * max(1, its KB, its µs / 2), with the bytes shared evenly among a design's requests.
 *
 * Data storage (GB-hours) is left out: every design keeps the same state and stream, and
 * Powertools' idempotency records (one per event for `expiresAfterSeconds`, 1 hour by default)
 * would only add to its side.
 */
import { fixed, markdownTable, percentile, type RedisWork } from './lib.ts';

/** The work one event asked of Redis, on average over a measured run. */
export interface EventWork {
  /** Requests the client sent (commands and script calls). */
  requests: number;
  scriptCalls: number;
  scriptMicros: number;
  clientBytes: number;
}

export function workPerEvent(
  before: RedisWork,
  after: RedisWork,
  requests: number,
  events: number,
): EventWork {
  return {
    requests: requests / events,
    scriptCalls: (after.scriptCalls - before.scriptCalls) / events,
    scriptMicros: (after.scriptMicros - before.scriptMicros) / events,
    clientBytes: (after.clientBytes - before.clientBytes) / events,
  };
}

/** The median of each field, over the rounds of one design. */
export function medianWork(runs: EventWork[]): EventWork {
  const median = (pick: (w: EventWork) => number) => percentile(runs.map(pick), 50);
  return {
    requests: median((w) => w.requests),
    scriptCalls: median((w) => w.scriptCalls),
    scriptMicros: median((w) => w.scriptMicros),
    clientBytes: median((w) => w.clientBytes),
  };
}

/** The prices and assumptions the table is computed from; each states where it comes from. */
export interface CostInputs {
  /** When the prices were read, and from where. */
  asOf: string;
  region: string;
  engine: string;
  node: {
    type: string;
    /** On-demand USD per node-hour. */
    hourlyUsd: number;
    source: string;
    /** Primary plus replicas: every node of a shard is paid for. */
    nodesPerShard: number;
    /** The engine-thread utilization a shard is run at (headroom for peaks and failover). */
    targetUtilization: number;
  };
  serverless: {
    usdPerMillionEcpu: number;
    source: string;
    /** Script time per ECPU, in µs (see the header). */
    microsPerEcpu: number;
  };
}

/**
 * The inputs of the published table. AWS's pricing page renders its figures in the browser: the
 * stored copies read for this hold its definitions (quoted above) but not the prices, so the
 * prices come from the sources named, as of their dates. Check
 * https://aws.amazon.com/elasticache/pricing/ before relying on them. Redis OSS prices, because
 * both have a source; Valkey (the CDK default) lists lower on both, which scales every cost
 * alike and leaves the ratios between designs as they are.
 */
export const elastiCachePrices: CostInputs = {
  asOf: '2026-06',
  region: 'us-east-1',
  engine: 'Redis OSS',
  node: {
    type: 'cache.m7g.large',
    hourlyUsd: 0.158,
    source: 'on-demand, as listed by public price tables of cloud cost tools, 2025-2026',
    nodesPerShard: 2,
    targetUtilization: 0.8,
  },
  serverless: {
    usdPerMillionEcpu: 0.0034,
    source:
      'AWS Database Blog, "Unlock on-demand, cost-optimized performance with Amazon ElastiCache Serverless" (2023), the same figure in price compilations of June 2026',
    microsPerEcpu: 2,
  },
};

/** ECPUs one event costs on ElastiCache Serverless (see the header for the model). */
export function ecpuPerEvent(work: EventWork, microsPerEcpu: number): number {
  if (work.requests === 0) return 0;
  const kbPerRequest = work.clientBytes / work.requests / 1024;
  const plainRequests = Math.max(0, work.requests - work.scriptCalls);
  const perScript =
    work.scriptCalls > 0
      ? Math.max(1, kbPerRequest, work.scriptMicros / work.scriptCalls / microsPerEcpu)
      : 0;
  return plainRequests * Math.max(1, kbPerRequest) + work.scriptCalls * perScript;
}

export interface DesignCost {
  design: string;
  /** Events per second one shard's engine thread sustains at the target utilization. */
  eventsPerSecondPerShard: number;
  nodeUsdPerMillion: number;
  ecpuPerEvent: number;
  serverlessUsdPerMillion: number;
}

export function costPerMillionEvents(
  design: string,
  redisCpuSecondsPerMillion: number,
  work: EventWork,
  inputs: CostInputs,
): DesignCost {
  const { node, serverless } = inputs;
  const nodeSeconds = redisCpuSecondsPerMillion / node.targetUtilization;
  const ecpu = ecpuPerEvent(work, serverless.microsPerEcpu);
  return {
    design,
    eventsPerSecondPerShard: 1e6 / nodeSeconds,
    nodeUsdPerMillion: (nodeSeconds * node.nodesPerShard * node.hourlyUsd) / 3600,
    ecpuPerEvent: ecpu,
    serverlessUsdPerMillion: ecpu * serverless.usdPerMillionEcpu,
  };
}

/** The costs of the named designs, in that order, from their apply measurements. */
export function designCosts(
  measured: readonly { design: string; redisCpuSecondsPerMillion: number; work: EventWork }[],
  designs: readonly string[],
  inputs: CostInputs = elastiCachePrices,
): DesignCost[] {
  return designs.flatMap((name) => {
    const m = measured.find((r) => r.design === name);
    return m ? [costPerMillionEvents(name, m.redisCpuSecondsPerMillion, m.work, inputs)] : [];
  });
}

const usd = (n: number) => (n >= 0.01 ? `$${fixed(n, 3)}` : `$${n.toPrecision(2)}`);

/**
 * The table: one row per design, the first row the reference the others are compared with
 * ("n× seqguard's cost").
 */
export function costTable(rows: DesignCost[], inputs: CostInputs = elastiCachePrices): string {
  const [reference] = rows;
  const times = (n: number, of: number) => (n === of ? '1.0x' : `${fixed(n / of, 1)}x`);
  const table = markdownTable(
    [
      'design',
      `node-based: events/s per shard at ${fixed(inputs.node.targetUtilization * 100)}% engine CPU`,
      'node-based: $ per 1M events',
      'ECPUs per event',
      'Serverless: $ per 1M events',
    ],
    rows.map((r) => [
      r.design,
      fixed(r.eventsPerSecondPerShard),
      `${usd(r.nodeUsdPerMillion)} (${times(r.nodeUsdPerMillion, reference?.nodeUsdPerMillion ?? r.nodeUsdPerMillion)})`,
      fixed(r.ecpuPerEvent, 2),
      `${usd(r.serverlessUsdPerMillion)} (${times(r.serverlessUsdPerMillion, reference?.serverlessUsdPerMillion ?? r.serverlessUsdPerMillion)})`,
    ]),
  );
  const { node, serverless } = inputs;
  return (
    `${table}\n\nInputs (${inputs.region}, ${inputs.engine}, prices as of ${inputs.asOf}): ` +
    `node-based: ${node.type} at $${node.hourlyUsd} per node-hour (${node.source}), ` +
    `${node.nodesPerShard} nodes per shard (primary + replica), each shard run at ` +
    `${fixed(node.targetUtilization * 100)}% of its one engine thread. ` +
    `Serverless: $${serverless.usdPerMillionEcpu} per million ECPUs (${serverless.source}); ` +
    `1 ECPU per request of up to 1 KB, 1 per KB above that, and 1 per ` +
    `${serverless.microsPerEcpu} µs of script time (AWS's Serverless cost estimator). ` +
    "The Redis CPU and script time are this run's, on this machine; storage (GB-hours) is left " +
    'out. Computed by bench/cost.ts.'
  );
}
