/**
 * Somebody is paged: every alarm topic of the deployment has at least one subscription, and none
 * waits for confirmation. An e-mail subscriber receives nothing until they follow the link SNS
 * sends; until then ListSubscriptionsByTopic lists the subscription with the SubscriptionArn
 * `PendingConfirmation` (SNS API reference, ListSubscriptionsByTopic and Subscription,
 * https://docs.aws.amazon.com/sns/latest/api/API_Subscription.html; SNS developer guide, "Email
 * notifications", https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html).
 * A subscription listed with its ARN may still wait: its attribute PendingConfirmation is then
 * "true" (GetSubscriptionAttributes,
 * https://docs.aws.amazon.com/sns/latest/api/API_GetSubscriptionAttributes.html); LocalStack
 * lists pending e-mail subscriptions that way.
 *
 * A deployment that pages nobody on purpose says so in the `paging` context
 * (`{"none": "<why>"}`); the stack then carries the reason as the output `PagingNone`, and an
 * empty topic is that decision rather than a fault.
 */
import {
  GetSubscriptionAttributesCommand,
  paginateListSubscriptionsByTopic,
  type Subscription,
} from '@aws-sdk/client-sns';
import {
  type CheckResult,
  type DoctorContext,
  fail,
  pass,
  resourcesOfType,
  skip,
} from './model.ts';

const id = 'alarm-subscriptions';
const title = 'Alarm topic subscribers';

/** The stack output that states a deployment pages nobody on purpose, and why. */
export const pagingNoneOutput = 'PagingNone';

async function subscriptionsOf(context: DoctorContext, topicArn: string): Promise<Subscription[]> {
  const all: Subscription[] = [];
  for await (const page of paginateListSubscriptionsByTopic(
    { client: context.clients.sns },
    { TopicArn: topicArn },
  ))
    all.push(...(page.Subscriptions ?? []));
  return all;
}

async function isPending(context: DoctorContext, subscription: Subscription): Promise<boolean> {
  const arn = subscription.SubscriptionArn;
  if (arn === 'PendingConfirmation') return true;
  if (arn === undefined || !arn.startsWith('arn:')) return false;
  const { Attributes = {} } = await context.clients.sns.send(
    new GetSubscriptionAttributesCommand({ SubscriptionArn: arn }),
  );
  return Attributes.PendingConfirmation === 'true';
}

function topicName(arn: string): string {
  return arn.split(':').at(-1) ?? arn;
}

export async function checkAlarmSubscriptions(context: DoctorContext): Promise<CheckResult> {
  const topics = resourcesOfType(context.deployment, 'AWS::SNS::Topic').map((r) => r.physicalId);
  if (topics.length === 0) return skip(id, title, 'the stacks hold no SNS topic');
  const noneBecause = context.deployment.stacks
    .map((s) => s.outputs[pagingNoneOutput])
    .find((why) => why !== undefined);
  const problems: string[] = [];
  const seen: string[] = [];
  for (const topic of topics) {
    const subscriptions = await subscriptionsOf(context, topic);
    const waiting = await Promise.all(subscriptions.map((s) => isPending(context, s)));
    const pending = subscriptions.filter((_, i) => waiting[i]);
    const confirmed = subscriptions.filter((_, i) => !waiting[i]);
    if (subscriptions.length === 0 && noneBecause === undefined)
      problems.push(`${topicName(topic)} has no subscriber: nobody is paged`);
    for (const s of pending)
      problems.push(
        `${topicName(topic)}: ${s.Protocol} ${s.Endpoint ?? ''} is PendingConfirmation`.trim(),
      );
    seen.push(
      `${topicName(topic)}: ${confirmed.length} confirmed (${confirmed.map((s) => s.Protocol).join(', ') || 'none'})`,
    );
  }
  if (problems.length > 0)
    return fail(
      id,
      title,
      problems.join('; '),
      'confirm each pending e-mail subscription (the link in the mail SNS sent; RequestConfirmation in the console sends it again), and set the `paging` context (docs/deploying.md, "Alarms and paging") and deploy again',
    );
  if (noneBecause !== undefined && seen.every((s) => s.includes(': 0 confirmed')))
    return skip(id, title, `paging is "none" by decision: ${noneBecause}`);
  return pass(id, title, seen.join('; '));
}
