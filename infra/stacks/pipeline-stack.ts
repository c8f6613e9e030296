/**
 * The stateless stack: the pipeline (SeqguardPipeline: the functions, their triggers and
 * schedule, IAM, alarms and dashboard), bound either to the data stack of this app, or to a VPC,
 * MSK cluster and ElastiCache cache the user brings (`existing` in CDK context; then this is the
 * only stack).
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { SeqguardConfig } from '../config.ts';
import type { ExistingClusters } from '../constructs/existing-clusters.ts';
import type { Pipeline } from '../constructs/pipeline.ts';
import { SeqguardPipeline } from '../constructs/seqguard-pipeline.ts';
import type { DataStack } from './data-stack.ts';

export interface PipelineStackProps extends StackProps {
  config: SeqguardConfig;
  /** This app's data stack; omitted when the clusters are the user's (`config.existing`). */
  data?: DataStack;
}

export class PipelineStack extends Stack {
  readonly seqguard: SeqguardPipeline;
  readonly pipeline: Pipeline;
  /** Present when the clusters are the user's. */
  readonly existing: ExistingClusters | undefined;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    if (props.data) this.addStackDependency(props.data);
    // "Default": the construct adds nothing to the logical ids, which stay those of the stack's
    // direct children (Pipeline, Existing), as before the construct existed.
    this.seqguard = new SeqguardPipeline(this, 'Default', {
      config: props.config,
      ...(props.data ? { data: props.data.data } : {}),
    });
    this.pipeline = this.seqguard.pipeline;
    this.existing = this.seqguard.existing;
  }
}
