/**
 * AWS rules the infra tests check in more than one configuration, written once with the page
 * they come from.
 */

/**
 * What the role of an IAM-authenticated MSK event source mapping must be allowed.
 * Lambda developer guide, "Configuring Lambda execution role permissions" for MSK
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html); its troubleshooting
 * section names a missing DescribeClusterDynamicConfiguration as "DescribeConfigs Cluster".
 * WriteData: "Capturing discarded batches for Amazon MSK and self-managed Apache Kafka event
 * sources", for a Kafka on-failure destination
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html).
 */
export const mskTriggerActions = [
  'kafka:DescribeClusterV2',
  'kafka:GetBootstrapBrokers',
  'kafka-cluster:Connect',
  'kafka-cluster:DescribeGroup',
  'kafka-cluster:AlterGroup',
  'kafka-cluster:DescribeTopic',
  'kafka-cluster:ReadData',
  'kafka-cluster:DescribeClusterDynamicConfiguration',
  'kafka-cluster:WriteData',
] as const;
