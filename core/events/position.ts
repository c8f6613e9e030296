/**
 * Positions: where in Kafka an event was written, and the token a service hands its own client
 * to read its writes later (docs/reading.md). A position names, per topic-partition, the offset
 * a read must have seen handled; positions merge by taking the highest offset of each
 * partition. Kafka's own counterpart is the position bound of interactive queries (KIP-796).
 *
 * A token is `p1.` and the base64url of the position's text: per topic a line, the topic, a
 * tab, then `partition:offset` pairs joined by commas. It holds only the URL-safe base64url
 * alphabet, so it goes in a path, a query string or a header as it is.
 */
import { PositionError } from '../errors.ts';
import { topicPartition } from './topic-partition.ts';

/** One partition's offset in a position. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  /** The offset of the last event the read must see, as Kafka numbers it (int64, >= 0). */
  offset: bigint;
}

/**
 * A position: at most one offset per topic-partition, sorted by topic, then partition. Build it
 * with positionOf() or mergePositions(), or read it from a token with parsePositionToken().
 */
export type Position = readonly PartitionOffset[];

const tokenVersion = 'p1.';
/** Kafka's topic names: "legal characters are [a-zA-Z0-9._-]", at most 249 of them. */
const legalTopic = /^[a-zA-Z0-9._-]{1,249}$/;
const maxPartition = 2 ** 31 - 1;
const maxOffset = 2n ** 63n - 1n;
/** A bound on the work of reading a token: thousands of partitions. */
export const maxTokenLength = 16_384;

function checked(entry: PartitionOffset): PartitionOffset {
  const { topic, partition, offset } = entry;
  if (typeof topic !== 'string' || !legalTopic.test(topic))
    throw new PositionError(
      `not a Kafka topic name: ${JSON.stringify(topic)} (1 to 249 of [a-zA-Z0-9._-])`,
    );
  if (!Number.isInteger(partition) || partition < 0 || partition > maxPartition)
    throw new PositionError(`partition of ${topic} out of range: ${partition}`);
  if (typeof offset !== 'bigint' || offset < 0n || offset > maxOffset)
    throw new PositionError(`offset of ${topic}-${partition} out of range: ${String(offset)}`);
  return { topic, partition, offset };
}

function sorted(byPartition: Map<string, PartitionOffset>): Position {
  return [...byPartition.values()].sort((a, b) =>
    a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
  );
}

/**
 * The position of written events (publishEvents' results, each with its topic): per partition
 * the highest offset. Throws PositionError for a topic, partition or offset Kafka cannot have.
 */
export function positionOf(events: Iterable<PartitionOffset>): Position {
  const byPartition = new Map<string, PartitionOffset>();
  for (const event of events) {
    const entry = checked(event);
    const key = topicPartition(entry);
    const held = byPartition.get(key);
    if (held === undefined || entry.offset > held.offset) byPartition.set(key, entry);
  }
  return sorted(byPartition);
}

/** Positions merged: per partition the highest offset of any of them. */
export function mergePositions(...positions: readonly Position[]): Position {
  return positionOf(positions.flat());
}

/** The position as a short URL-safe token (`p1.` and base64url). */
export function positionToken(position: Position): string {
  const lines: string[] = [];
  let topic: string | undefined;
  for (const entry of positionOf(position)) {
    const pair = `${entry.partition}:${entry.offset}`;
    if (entry.topic === topic) lines[lines.length - 1] += `,${pair}`;
    else lines.push(`${entry.topic}\t${pair}`);
    topic = entry.topic;
  }
  return tokenVersion + Buffer.from(lines.join('\n'), 'utf8').toString('base64url');
}

const base64url = /^[A-Za-z0-9_-]*$/;
const pairText = /^(0|[1-9][0-9]{0,9}):(0|[1-9][0-9]{0,18})$/;

/**
 * The position a token holds. Throws PositionError, saying what is wrong, for anything that
 * positionToken() did not make: another text, a cut or altered token, a partition or offset
 * Kafka cannot have, a partition named twice.
 */
export function parsePositionToken(token: string): Position {
  const shown = token.length > 40 ? `${token.slice(0, 40)}…` : token;
  const bad = (why: string) =>
    new PositionError(`not a seqguard position token (${why}): ${JSON.stringify(shown)}`);
  if (typeof token !== 'string' || !token.startsWith(tokenVersion))
    throw bad(`it does not start with "${tokenVersion}"`);
  if (token.length > maxTokenLength) throw bad(`longer than ${maxTokenLength} characters`);
  const body = token.slice(tokenVersion.length);
  // The empty position (no writes yet) is what positionToken() makes of [].
  if (body.length === 0) return [];
  if (!base64url.test(body)) throw bad('not base64url after the prefix');
  const text = Buffer.from(body, 'base64url').toString('utf8');
  if (Buffer.from(text, 'utf8').toString('base64url') !== body)
    throw bad('not canonical base64url');
  const entries: PartitionOffset[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const [topic, pairs, extra] = line.split('\t');
    if (topic === undefined || pairs === undefined || extra !== undefined)
      throw bad('a line is not a topic and its partitions');
    for (const pair of pairs.split(',')) {
      const match = pairText.exec(pair);
      if (match === null) throw bad(`"${pair}" is not partition:offset`);
      const entry = {
        topic,
        partition: Number(match[1]),
        offset: BigInt(match[2] as string),
      };
      try {
        checked(entry);
      } catch (error) {
        throw bad((error as Error).message);
      }
      const key = topicPartition(entry);
      if (seen.has(key)) throw bad(`${key} is named twice`);
      seen.add(key);
      entries.push(entry);
    }
  }
  return positionOf(entries);
}
