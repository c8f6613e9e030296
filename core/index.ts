/**
 * `seqguard`: the public entry of the core. Everything outside `core/` (the Lambda functions,
 * the operator tools, the local runtime, the benchmarks, the CDK constructs, and users) imports
 * the core from here or from `seqguard/producer` (core/producer/index.ts); docs/api.md lists
 * each export, and a test holds that list to this file.
 *
 * The sections follow the core's folders: the guard (a pure model of the Lua sequence guard),
 * events (the contract and its decoding), layout (Redis keys and the codecs of what they hold),
 * the sink (apply an MSK batch through narrow ports, replay a range), drift (the scheduled
 * check), and the adapters: Redis (one wrapper per script) and Kafka.
 */

export {
  type ConfigCode,
  type DriftConfig,
  loadDriftConfig,
  loadSinkConfig,
  type SinkConfig,
} from './config/config.ts';
// The configuration contract of the functions (one table of variables), and the alarm thresholds.
export {
  defaultOf,
  type EnvironmentVariable,
  environmentVariableNames,
  environmentVariables,
} from './config/environment.ts';
export { functionMemoryMiB } from './config/functions.ts';
export {
  type AlarmName,
  type AlarmState,
  alarmMetrics,
  defaultThresholds,
  evaluateAlarms,
  loadThresholds,
  type Thresholds,
} from './config/thresholds.ts';
export { triggerDefaults } from './config/trigger.ts';

// Drift: what the scheduled check measures and repairs.
export {
  checkDrift,
  type DriftCheckDependencies,
  type DriftCheckOptions,
  type DriftReport,
  type PartitionDrift,
} from './drift/check-drift.ts';
export { type DriftConnections, openDriftConnections } from './drift/connect.ts';

// Errors: one base class, a subclass per failure.
export {
  type BehindBoundReason,
  ConfigError,
  KafkaReadError,
  MskIamTokenError,
  MutationDefinitionError,
  NotUpToBoundError,
  type PartitionBehind,
  PositionError,
  ProducerOptionsError,
  PublishError,
  RedisAuthSecretError,
  RedisBehindError,
  RedisLayoutError,
  RedisNewerLayoutError,
  RedisNotReplicatedError,
  RedisUnavailableError,
  ReplayRequestError,
  SeqguardError,
  SequenceOverflowError,
  SequenceUnavailableError,
} from './errors.ts';

// Events: the contract, its decoding from MSK records, and exact int64 text.
export { type Decoded, type DecodeOptions, decodeRecord } from './events/decode.ts';
// Mutations: define your own, register them with the built-ins, and the model's state helpers.
export { type Field, fields, limits } from './events/fields.ts';
export { INT64_MAX, INT64_MIN, parseInt64, parseJsonExact } from './events/int64.ts';
// Positions: where events were written, merged, and as a token (docs/reading.md).
export {
  mergePositions,
  type PartitionOffset,
  type Position,
  parsePositionToken,
  positionOf,
  positionToken,
} from './events/position.ts';
export { type Mapping, mappingSchema } from './events/schema.ts';
export { topicOf, topicPartition } from './events/topic-partition.ts';
export type {
  GuardedEvent,
  InvalidRecord,
  Mutation,
  RecordCoordinates,
} from './events/types.ts';
// The guard: how a shard's events are cut into script calls, and its pure model.
export { chunk, maxChunkEvents } from './guard/chunks.ts';
export {
  applyMutation,
  applyRecorded,
  emptyShardModel,
  emptyStateModel,
  type GuardOutcome,
  guard,
  guardEvent,
  isApplied,
  isRecorded,
  type ModelScore,
  type ModelValue,
  type MutationStep,
  type RejectionReason,
  type ShardModel,
  type StateModel,
} from './guard/model.ts';
export { toPlainJson } from './json.ts';
export {
  createAdmin,
  createConsumer,
  createKafkaProducer,
  type KafkaConnection,
  withAdmin,
} from './kafka/connection.ts';
export { triggerGroupId, triggerGroups } from './kafka/consumer-groups.ts';
export { lazyKafkaConnection } from './kafka/location.ts';
export {
  type ConsumedRecord,
  type EventSourceIdentity,
  toMskEvent,
  toMskRecord,
} from './kafka/msk-event.ts';
export { type PartitionRange, partitionRanges } from './kafka/offsets.ts';
export { type RecordRange, readRecords } from './kafka/read-records.ts';
// Layout: the one module that builds keys, the app user's ACL, the codecs of stored formats.
export { anyKeyPrefix, appAccessString, redisUserName } from './layout/access-string.ts';
export {
  type DeadLetterEntry,
  decodeDeadLetterEntry,
  decodeGapMember,
  decodeStreamEntry,
  entryMutation,
  type GapRange,
  metaField,
  metaStateNames,
  parseScore,
  type StreamEntry,
  scoreText,
  versionField,
} from './layout/codecs.ts';
export {
  cursorField,
  type DeadLetterKeys,
  deadLetterKeys,
  defaultKeyPrefix,
  producerOutboxKey,
  producerSeqKey,
  rebuildKey,
  rebuildScratchPrefix,
  rebuildVersionsKey,
  type ShardKeys,
  shardKeys,
  stateKey,
} from './layout/keys.ts';
export {
  isNewerThanRead,
  type LayoutStamp,
  layoutVersion,
  streamFormat,
  type VersionRange,
} from './layout/versions.ts';
export { builtinMutations, defaultMutations } from './mutations/builtins/index.ts';
export {
  defineMutation,
  type MutationData,
  type MutationDefinition,
  type MutationModel,
} from './mutations/define.ts';
export {
  createMutationRegistry,
  type MutationRegistry,
  type RegisteredMutation,
} from './mutations/registry.ts';
export {
  counterOf,
  dropIfEmpty,
  ensureState,
  isInt64,
  type MutationRejection,
  setCounter,
  stateOf,
} from './mutations/state.ts';
// Reading: position-bound reads of the state, and waiting for a position (docs/reading.md).
export {
  type Bound,
  createReader,
  type RankedMember,
  type RankOptions,
  type RankOrder,
  type Reader,
  type ReaderOptions,
  type ReadOptions,
  type WaitOptions,
} from './reading/reader.ts';
export {
  compareStreamIds,
  createStreamView,
  type StreamView,
  type StreamViewOptions,
} from './reading/stream-view.ts';
// Redis: the client, the guard's and the dead letters' script wrappers, credentials.
export { applyBatchArguments, applyChunk, type GuardOptions } from './redis/apply-batch.ts';
export { type RedisCredentials, withRedisAuthSecret } from './redis/auth-secret.ts';
export {
  createRedisClient,
  defineScript,
  type RedisClient,
  type RedisConnectionOptions,
  type RegisteredScript,
} from './redis/client.ts';
export { deadLetterCounts } from './redis/dead-letter.ts';
export { redisCallError } from './redis/script-error.ts';
// The sink: apply an MSK batch through its ports, their Redis adapter, replay a range.
export {
  type ApplyRecordsOptions,
  applyRecords,
  type BatchResult,
  type BatchSummary,
  type HeldCheckpoints,
} from './sink/apply-records.ts';
// Kafka: connections (plaintext, SASL/SCRAM or MSK IAM), offsets, reads, MSK events.
export type { KafkaBatchResponse, KafkaItemIdentifier } from './sink/batch-response.ts';
export type {
  DeadLetter,
  DeadLetterOutcome,
  ExpectedCheckpoints,
  LedgerAdvance,
  LedgerEntry,
  LedgerPort,
  SinkPorts,
} from './sink/ports.ts';
export { createSinkPorts } from './sink/redis-ports.ts';
export {
  parseReplayRequest,
  type ReplayRequest,
  type ReplayResult,
  rangesOf,
  replay,
} from './sink/replay.ts';
