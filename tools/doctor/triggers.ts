/**
 * The Kafka triggers run: every event source mapping of apply-events (the function, and its
 * alias `live` when it has provisioned concurrency) is `Enabled`, and its last processing result
 * is `OK` or `No records processed`. A mapping Lambda disabled itself, or whose last attempt
 * reports a `PROBLEM: …` (the brokers unreachable, authentication refused, the function failing),
 * applies nothing, and no drift alarm may notice before the lag grows. Values: Lambda API
 * reference, EventSourceMappingConfiguration (State, LastProcessingResult,
 * https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html); what
 * the problems mean: Lambda developer guide, "Troubleshooting Amazon MSK event source mapping
 * errors", https://docs.aws.amazon.com/lambda/latest/dg/with-msk-troubleshoot.html.
 */
import {
  type EventSourceMappingConfiguration,
  paginateListEventSourceMappings,
} from '@aws-sdk/client-lambda';
import {
  type CheckResult,
  type DoctorContext,
  fail,
  pass,
  resourcesOfType,
  skip,
} from './model.ts';

const id = 'kafka-triggers';
const title = 'Kafka triggers';

/** Processing results that mean the mapping works (with records, or with none to process). */
const healthyResults: ReadonlySet<string> = new Set(['OK', 'No records processed']);

/** What is wrong with one mapping, if anything. */
export function mappingProblem(mapping: EventSourceMappingConfiguration): string | undefined {
  const name = `${mapping.UUID} (${mapping.Topics?.join(', ') ?? mapping.EventSourceArn ?? 'source unknown'})`;
  if (mapping.State !== 'Enabled')
    return `${name} is ${mapping.State ?? 'in no state'}${mapping.StateTransitionReason ? `: ${mapping.StateTransitionReason}` : ''}`;
  const result = mapping.LastProcessingResult;
  // A mapping that has not polled yet has no result: nothing is wrong with it so far.
  if (result !== undefined && result !== '' && !healthyResults.has(result))
    return `${name}: last processing result "${result}"`;
  return undefined;
}

async function mappingsOf(
  context: DoctorContext,
  functionName: string,
): Promise<EventSourceMappingConfiguration[]> {
  const all: EventSourceMappingConfiguration[] = [];
  for await (const page of paginateListEventSourceMappings(
    { client: context.clients.lambda },
    { FunctionName: functionName },
  ))
    all.push(...(page.EventSourceMappings ?? []));
  return all;
}

export async function checkKafkaTriggers(context: DoctorContext): Promise<CheckResult> {
  const { deployment } = context;
  const functions = resourcesOfType(deployment, 'AWS::Lambda::Function')
    .map((r) => r.physicalId)
    .filter((name) => name.endsWith('-apply-events'));
  const declared = resourcesOfType(deployment, 'AWS::Lambda::EventSourceMapping').length;
  if (functions.length === 0)
    return skip(id, title, 'the stacks hold no apply-events function (nor its triggers)');
  // The alias `live` is what the mappings invoke when it exists; a listing by function name
  // names the mappings of that qualifier only.
  const aliases = resourcesOfType(deployment, 'AWS::Lambda::Alias').map((r) => r.physicalId);
  const byUuid = new Map<string, EventSourceMappingConfiguration>();
  for (const target of [...functions, ...aliases])
    for (const mapping of await mappingsOf(context, target))
      if (mapping.UUID) byUuid.set(mapping.UUID, mapping);
  const mappings = [...byUuid.values()];
  if (mappings.length === 0) {
    if (declared === 0) return skip(id, title, 'the stacks declare no Kafka trigger');
    return fail(
      id,
      title,
      `the stacks declare ${declared} trigger(s), Lambda lists none for ${functions.join(', ')}`,
      'deploy the pipeline stack again; CloudFormation recreates a mapping deleted outside it',
    );
  }
  const problems = mappings.map(mappingProblem).filter((p) => p !== undefined);
  if (problems.length > 0)
    return fail(
      id,
      title,
      problems.join('; '),
      'read the reason, fix access to the brokers or the function (docs/operations.md, "After a deploy: doctor"), then enable the mapping again (UpdateEventSourceMapping --enabled)',
    );
  return pass(
    id,
    title,
    mappings
      .map(
        (m) =>
          `${m.Topics?.join(', ') ?? m.UUID}: ${m.State}, ${m.LastProcessingResult ?? 'not polled yet'}`,
      )
      .join('; '),
  );
}
