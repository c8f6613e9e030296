/**
 * The consumer group of each Kafka trigger. An MSK event source mapping takes one topic, and its
 * consumer group id "must be unique among all your Kafka event sources" (Lambda developer guide,
 * "Customizable consumer group ID",
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html): with several
 * topics, each trigger gets the configured id plus `.<topic>`. One topic keeps the configured id
 * as it is. The CDK stacks name the triggers' groups with this function, and check-drift reads
 * the same groups' commits with it.
 *
 * Adding a second topic later renames the first topic's group: its new mapping starts from the
 * starting position, which the sequence guard makes safe (duplicates), not free (re-reading).
 */
export function triggerGroupId(baseGroupId: string, topic: string, topics: readonly string[]) {
  return topics.length === 1 ? baseGroupId : `${baseGroupId}.${topic}`;
}

/** Each topic with the group id of its trigger. */
export function triggerGroups(baseGroupId: string, topics: readonly string[]) {
  return topics.map((topic) => ({ topic, groupId: triggerGroupId(baseGroupId, topic, topics) }));
}
