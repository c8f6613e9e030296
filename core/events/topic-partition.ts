/**
 * The name of a partition, `<topic>-<partition>`: the Lambda event keys its record lists by it
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html), and the batch response, the
 * guard's checkpoints, the ledgers, check-drift and replay use the same string. Built and read
 * back only here. Kept free of imports, so that modules without a Kafka client (the decoder,
 * the key builder) can use it too.
 */

/** `<topic>-<partition>`, as the Lambda event names its record lists. */
export function topicPartition(record: { topic: string; partition: number }): string {
  return `${record.topic}-${record.partition}`;
}

/** The topic of a `<topic>-<partition>`: everything before the last '-'. */
export function topicOf(topicPartitionName: string): string {
  return topicPartitionName.slice(0, topicPartitionName.lastIndexOf('-'));
}
