/**
 * Fuzz target `position-token`: the read tokens a service hands its client
 * (`positionToken()`/`parsePositionToken()`, docs/reading.md). The first byte chooses:
 * - a position built from the bytes (topics, partitions, offsets, some out of Kafka's range):
 *   `positionOf()` refuses the impossible ones with PositionError, and a token of any other
 *   parses back to the same position;
 * - a token text of the bytes, or `p1.` and the base64url of the bytes (a token's body, cut or
 *   altered): parsing gives a position whose own token parses to it again, or a PositionError
 *   that quotes the token; never another error.
 */
import {
  type PartitionOffset,
  type Position,
  PositionError,
  parsePositionToken,
  positionOf,
  positionToken,
} from '../../../core/index.ts';
import { ByteReader, expectThat, stringify } from '../bytes.ts';

const topics = ['orders', 'game.scores', 'a', 'T_9-x', '', 'bad topic', 'ä'];

function parsedOrRefused(token: string): Position | undefined {
  try {
    return parsePositionToken(token);
  } catch (error) {
    expectThat(error instanceof PositionError, 'a bad token is a PositionError', String(error));
    expectThat(
      (error as Error).message.startsWith('not a seqguard position token'),
      'a refused token says so',
      (error as Error).message,
    );
    return undefined;
  }
}

function checkBuiltPosition(input: ByteReader): void {
  const entries: PartitionOffset[] = [];
  while (!input.done && entries.length < 64) {
    const topic = input.pick(topics);
    const partition = input.byte() % 8 === 7 ? -1 : input.uint16();
    const offset = input.int64() + (input.byte() % 2 === 0 ? 0n : 2n ** 63n);
    entries.push({ topic, partition, offset });
  }
  let position: Position;
  try {
    position = positionOf(entries);
  } catch (error) {
    expectThat(
      error instanceof PositionError,
      'an impossible position is a PositionError',
      String(error),
    );
    return;
  }
  const token = positionToken(position);
  expectThat(/^p1\.[A-Za-z0-9_-]*$/.test(token), 'a token is URL-safe', token);
  const parsed = parsePositionToken(token);
  expectThat(stringify(parsed) === stringify(position), 'a token parses to its position', {
    position,
    parsed,
  });
}

function checkTokenText(token: string): void {
  const parsed = parsedOrRefused(token);
  if (parsed === undefined) return;
  const again = parsePositionToken(positionToken(parsed));
  expectThat(stringify(again) === stringify(parsed), "a parsed token's position round-trips", {
    token,
    parsed,
    again,
  });
}

export function fuzz(data: Uint8Array): void {
  const input = new ByteReader(data);
  const mode = input.byte() % 3;
  if (mode === 0) checkBuiltPosition(input);
  else if (mode === 1) checkTokenText(input.rest().toString('latin1'));
  else checkTokenText(`p1.${input.rest().toString('base64url')}`);
}
