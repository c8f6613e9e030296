/**
 * The consumer group of each Kafka trigger. An MSK event source mapping takes one topic, and its
 * consumer group id "must be unique among all your Kafka event sources" and cannot be updated
 * once the mapping exists (Lambda developer guide, "Customizable consumer group ID",
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html). So each topic's
 * trigger gets the configured id plus `.<topic>`, whatever the other topics are: adding or
 * removing a topic never renames another trigger's group (which Lambda would refuse, and which
 * would restart that trigger from its starting position). The CDK stacks name the triggers'
 * groups with this function, the local pipeline consumes with it, and check-drift reads the same
 * groups' commits with it.
 */
export function triggerGroupId(baseGroupId: string, topic: string): string {
  return `${baseGroupId}.${topic}`;
}

/** Each topic with the group id of its trigger. */
export function triggerGroups(baseGroupId: string, topics: readonly string[]) {
  return topics.map((topic) => ({ topic, groupId: triggerGroupId(baseGroupId, topic) }));
}
