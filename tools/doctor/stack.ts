/**
 * The deployment `doctor` looks at, found from CloudFormation: the stacks' status, outputs and
 * resources (DescribeStacks, ListStackResources). Every other check starts from the physical ids
 * listed here, so doctor needs no configuration beyond the stack names.
 */
import {
  type CloudFormationClient,
  DescribeStacksCommand,
  paginateListStackResources,
} from '@aws-sdk/client-cloudformation';
import { DoctorError } from '../errors.ts';
import type { Deployment, StackResource } from './model.ts';

/** The stack names `infra/seqguard-app.ts` gives a deployment with the default prefix. */
export const defaultStacks = { pipeline: 'seqguard-pipeline', data: 'seqguard-data' } as const;

type StackSummary = Deployment['stacks'][number];

/** A stack that does not exist reads as a ValidationError saying so (CloudFormation API). */
function isMissingStack(error: unknown): boolean {
  const { name, message } = error as { name?: string; message?: string };
  return name === 'ValidationError' && /does not exist/.test(message ?? '');
}

async function describeStack(
  cloudformation: CloudFormationClient,
  name: string,
): Promise<StackSummary | undefined> {
  try {
    const { Stacks = [] } = await cloudformation.send(
      new DescribeStacksCommand({ StackName: name }),
    );
    const stack = Stacks[0];
    if (stack === undefined) return undefined;
    const outputs: Record<string, string> = {};
    for (const output of stack.Outputs ?? [])
      if (output.OutputKey && output.OutputValue !== undefined)
        outputs[output.OutputKey] = output.OutputValue;
    return {
      name,
      status: stack.StackStatus ?? 'UNKNOWN',
      created: stack.CreationTime ?? new Date(),
      outputs,
    };
  } catch (error) {
    if (isMissingStack(error)) return undefined;
    throw error;
  }
}

async function stackResources(
  cloudformation: CloudFormationClient,
  stack: string,
): Promise<StackResource[]> {
  const resources: StackResource[] = [];
  for await (const page of paginateListStackResources(
    { client: cloudformation },
    { StackName: stack },
  )) {
    for (const r of page.StackResourceSummaries ?? []) {
      resources.push({
        stack,
        logicalId: r.LogicalResourceId ?? '',
        type: r.ResourceType ?? '',
        physicalId: r.PhysicalResourceId ?? '',
      });
    }
  }
  return resources;
}

/**
 * The named stacks, every one of which must exist; without names, the default pipeline stack
 * and the data stack when there is one (a deployment on clusters of your own has none).
 */
export async function loadDeployment(
  cloudformation: CloudFormationClient,
  region: string,
  names: readonly string[],
): Promise<Deployment> {
  const wanted =
    names.length > 0
      ? names.map((name) => ({ name, required: true }))
      : [
          { name: defaultStacks.pipeline, required: true },
          { name: defaultStacks.data, required: false },
        ];
  const stacks: StackSummary[] = [];
  for (const { name, required } of wanted) {
    const stack = await describeStack(cloudformation, name).catch((error: unknown) => {
      throw new DoctorError(
        `cannot read stack ${name} in ${region}: ${(error as Error).name}: ${(error as Error).message}`,
        { cause: error },
      );
    });
    if (stack === undefined) {
      if (!required) continue;
      throw new DoctorError(
        `stack ${name} does not exist in ${region}: name the deployed stacks with --stack (the pipeline stack is <prefix>-pipeline, or <prefix>-localstack on LocalStack) and the region with --region`,
      );
    }
    stacks.push(stack);
  }
  const resources = (
    await Promise.all(stacks.map((s) => stackResources(cloudformation, s.name)))
  ).flat();
  return { region, stacks, resources };
}
