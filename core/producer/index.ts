/**
 * `seqguard/producer`: what an upstream service installs to send events the guard can hold
 * exactly once: the hardened producer (idempotent, acks=all, ordered) and the seq sources that
 * stamp each event with its scope's next seq. It pulls in no Redis adapter beyond the optional
 * Redis seq counter's narrow port.
 */

export { PositionError } from '../errors.ts';
export {
  mergePositions,
  type PartitionOffset,
  type Position,
  parsePositionToken,
  positionOf,
  positionToken,
} from '../events/position.ts';
export {
  type CreateProducerOptions,
  createProducer,
  type EventProducer,
  maxIdempotentInflights,
  type OutgoingEvent,
  type PublishedEvent,
  partitionOf,
  producerDefaults,
  publishEvents,
  toExactJson,
} from './producer.ts';
export {
  type CounterStore,
  defaultFirstSeq,
  type EnvelopeDraft,
  type InMemorySequenceOptions,
  inMemorySequenceSource,
  type RedisSequenceOptions,
  redisSequenceSource,
  type SeedEvent,
  type SeedEventDraft,
  type SequenceSource,
  type StampedEnvelope,
  type StampedEvent,
  stampEnvelope,
  stampSeedEvent,
} from './sequencer.ts';
