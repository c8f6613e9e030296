/**
 * The only place that builds Redis keys.
 *
 * Every key of one state shard starts with the hash tag `{<prefix>:<shard>}`, so that the Lua
 * guard may touch all of them in one execution on a cluster (a script may only use keys of one
 * slot). Shard and state names are percent-encoded (encodeURIComponent also encodes `{`, `}`,
 * `:` and `%`), so a name can neither end the hash tag early, nor move a key to another slot,
 * nor make two different (shard, name) pairs build the same key.
 *
 * The dead-letter stream has a tag of its own, `{<prefix>~dlq}`, that no shard can produce:
 * shard tags always hold a `:`.
 */
import { topicPartition } from '../events/topic-partition.ts';

export const defaultKeyPrefix = 'sg';

export interface ShardKeys {
  cursors: string;
  gaps: string;
  offsets: string;
  stream: string;
  meta: string;
  versions: string;
}

export interface DeadLetterKeys {
  stream: string;
  offsets: string;
}

function encode(name: string): string {
  if (!name.isWellFormed()) throw new TypeError('Redis key names must be well-formed Unicode');
  return encodeURIComponent(name);
}

function shardTag(shard: string, prefix: string): string {
  return `{${prefix}:${encode(shard)}}`;
}

export function shardKeys(shard: string, prefix = defaultKeyPrefix): ShardKeys {
  const tag = shardTag(shard, prefix);
  return {
    cursors: `${tag}:cursors`,
    gaps: `${tag}:gaps`,
    offsets: `${tag}:offsets`,
    stream: `${tag}:stream`,
    meta: `${tag}:meta`,
    versions: `${tag}:versions`,
  };
}

export type ShardKeyKind = keyof ShardKeys;

const shardKeyKinds: ReadonlySet<string> = new Set<ShardKeyKind>([
  'cursors',
  'gaps',
  'offsets',
  'stream',
  'meta',
  'versions',
]);

/**
 * A SCAN MATCH pattern for one kind of shard key of every shard of a prefix (a prefix holds
 * only `[A-Za-z0-9_-]`, none of which is special in a glob; see keyPatterns).
 */
export function shardKeyPattern(kind: ShardKeyKind, prefix = defaultKeyPrefix): string {
  return `{${prefix}:*}:${kind}`;
}

/**
 * The shard and kind of a key that shardKeys() builds, or undefined for any other key (a state
 * key, a key of another prefix, a name that is not percent-encoded as shardKeys encodes it).
 */
export function parseShardKey(
  key: string,
  prefix = defaultKeyPrefix,
): { shard: string; kind: ShardKeyKind } | undefined {
  const head = `{${prefix}:`;
  // An encoded shard holds no `}`: the first one ends the tag.
  const close = key.indexOf('}', head.length);
  if (!key.startsWith(head) || close < 0 || key[close + 1] !== ':') return undefined;
  const kind = key.slice(close + 2);
  if (!shardKeyKinds.has(kind)) return undefined;
  let shard: string;
  try {
    shard = decodeURIComponent(key.slice(head.length, close));
  } catch {
    return undefined;
  }
  if (!shard.isWellFormed() || shardTag(shard, prefix) !== key.slice(0, close + 1))
    return undefined;
  return { shard, kind: kind as ShardKeyKind };
}

/** A state key (leaderboard, counter hash, …) of a shard, by its name. */
export function stateKey(shard: string, name: string, prefix = defaultKeyPrefix): string {
  return `${shardTag(shard, prefix)}:state:${encode(name)}`;
}

/**
 * A fresh key that a rebuild fills before it takes the place of `stateKey(shard, name)`: same
 * hash tag, so the swap (RENAME) happens in one slot.
 */
export function rebuildKey(
  shard: string,
  name: string,
  token: string,
  prefix = defaultKeyPrefix,
): string {
  return `${shardTag(shard, prefix)}:rebuild:${encode(name)}:${encode(token)}`;
}

/** The versions of a rebuild's fresh `hsetIfNewer` key, kept while it is folded. */
export function rebuildVersionsKey(
  shard: string,
  name: string,
  token: string,
  prefix = defaultKeyPrefix,
): string {
  return `${shardTag(shard, prefix)}:rebuild-versions:${encode(name)}:${encode(token)}`;
}

/**
 * The prefix of a rebuild swap's scratch keys: the other keys its tail's entries touch (the far
 * side of a transfer) are written here and deleted in the same execution. Same hash tag.
 */
export function rebuildScratchPrefix(
  shard: string,
  name: string,
  token: string,
  prefix = defaultKeyPrefix,
): string {
  return `${shardTag(shard, prefix)}:rebuild-scratch:${encode(name)}:${encode(token)}:`;
}

/**
 * The set of every shard the sink has written to. It lives apart from the shards, so the drift
 * check can tell a shard whose keys vanished (a node that lost its data) from one never written.
 */
export function shardRegistryKey(prefix = defaultKeyPrefix): string {
  return `{${prefix}~registry}:shards`;
}

export function deadLetterKeys(prefix = defaultKeyPrefix): DeadLetterKeys {
  const tag = `{${prefix}~dlq}`;
  return { stream: `${tag}:stream`, offsets: `${tag}:offsets` };
}

/**
 * The ledger of one topic-partition (lua/advanceLedger-1.lua): what the sink handled of it, and
 * the highest offset it wrote to each shard. A tag of its own per partition, apart from every
 * shard (`~tp` is a tag no shard can produce), so that a node that loses writes can be seen
 * against the others, and partitions spread over a cluster's slots.
 */
export function partitionLedgerKey(partition: string, prefix = defaultKeyPrefix): string {
  return `{${prefix}~tp:${encode(partition)}}:ledger`;
}

/**
 * The producer-side counter of a scope (core/producer/sequencer.ts). Each counter has a
 * tag of its own, so a cluster spreads them over its slots; `~seq` is a tag no shard can produce.
 */
export function producerSeqKey(scope: string, prefix = defaultKeyPrefix): string {
  return `{${prefix}~seq:${encode(scope)}}`;
}

/**
 * The outbox of a producer that publishes bursts exactly once across its own restarts (the
 * soak's): beside its seq counters, in their Redis.
 */
export function producerOutboxKey(prefix = defaultKeyPrefix): string {
  return `{${prefix}~outbox}`;
}

/** The hash field of a sequence scope's cursor, or of a topic-partition's offset cursor. */
export function cursorField(
  sequence: { scope: string } | null,
  record: { topic: string; partition: number },
): string {
  return sequence === null ? `o:${topicPartition(record)}` : `s:${sequence.scope}`;
}

/**
 * Glob patterns (Redis ACL `~pattern`) that together cover every key this module builds for a
 * prefix, and no key of another prefix: every key starts with `{<prefix>:` (shards) or
 * `{<prefix>~` (registry, dead letters, producer counters). A prefix holds only
 * `[A-Za-z0-9_-]` (core/config/config.ts), none of which is special in a glob.
 */
export function keyPatterns(prefix = defaultKeyPrefix): string[] {
  return [`{${prefix}:*`, `{${prefix}~*`];
}
