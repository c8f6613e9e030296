/**
 * `seqguard/cdk`: the CDK constructs of a seqguard deployment, for your own CDK app. The whole
 * pipeline is one construct, SeqguardPipeline, that binds to the data of this app (SeqguardData)
 * or to the VPC, MSK cluster and ElastiCache cache you already run; its parts are constructs of
 * their own. This repository's app (infra/app.ts, infra/seqguard-app.ts) uses nothing else.
 *
 *   const config = resolveConfig({ prefix: 'shop', topics: ['shop.orders'], existing: {...} });
 *   new SeqguardPipeline(stack, 'Seqguard', { config });
 */
export {
  cacheName,
  type ExistingClustersContext,
  kafkaClusterName,
  loadConfig,
  lowLatencyGuide,
  resolveConfig,
  type SeqguardConfig,
  type SeqguardSettings,
} from './config.ts';
export { ExistingClusters } from './constructs/existing-clusters.ts';
export { KafkaCluster } from './constructs/kafka-cluster.ts';
export { Monitoring, type WatchedData } from './constructs/monitoring.ts';
export { MskAccess } from './constructs/msk-access.ts';
export { type EndpointCalls, Network } from './constructs/network.ts';
export { Pipeline, type PipelineBindings, type PipelineProps } from './constructs/pipeline.ts';
export { RedisCache } from './constructs/redis-cache.ts';
export { SeqguardData, type SeqguardDataProps, tokenZones } from './constructs/seqguard-data.ts';
export {
  functionNameOf,
  SeqguardFunction,
  type SeqguardFunctionName,
  type SeqguardFunctionProps,
  type SeqguardHandlerEntries,
} from './constructs/seqguard-function.ts';
export { SeqguardPipeline, type SeqguardPipelineProps } from './constructs/seqguard-pipeline.ts';
export { DataStack, type DataStackProps } from './stacks/data-stack.ts';
export { LocalStackStack, type LocalStackStackProps } from './stacks/localstack-stack.ts';
export { PipelineStack, type PipelineStackProps } from './stacks/pipeline-stack.ts';
