/**
 * Fuzz target `event-value`: the fuzzer's bytes are a record value's text (the JSON an upstream
 * service wrote), decoded in the envelope format and in the mapped format with the default
 * mapping (the seed article's `{sequence_id, player_id, delta}`), with a record key.
 * Properties: decoding never throws; an event it yields says what the JSON said, checked
 * against the JSON read again independently: the seq is the exact integer of `seq` (or of
 * `sequence_id`), the scope is `scope` (or the record key), the shard is `shard` (or the
 * default), the mutation is `type` (`zincrby` when mapped), and a dead letter has a reason.
 */
import type { MSKRecord } from 'aws-lambda';
import {
  type DecodeOptions,
  decodeRecord,
  mappingSchema,
  parseJsonExact,
} from '../../../core/index.ts';
import { expectThat } from '../bytes.ts';

const recordKey = 'player-7';
const envelope: DecodeOptions = {
  format: 'envelope',
  mapping: mappingSchema.parse({}),
  maxValueBytes: 65_536,
  defaultShard: 'default',
};
const mapped: DecodeOptions = { ...envelope, format: 'mapped' };

/** The integer text a JSON seq stands for, as the decoder must read it. */
function integerText(value: unknown): string | undefined {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isSafeInteger(value))
    return String(value === 0 ? 0 : value);
  if (typeof value === 'string') return value;
  return undefined;
}

/** An identifier's text as the decoder uses it: a string, or an integer's exact digits. */
function identifierText(value: unknown): string | undefined {
  return typeof value === 'string' ? value : integerText(value);
}

function recordOf(value: Buffer): MSKRecord {
  return {
    topic: 'payments',
    partition: 0,
    offset: 1,
    timestamp: 1,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(recordKey).toString('base64'),
    value: value.toString('base64'),
    headers: [],
  };
}

export function fuzz(data: Uint8Array): void {
  const value = Buffer.from(data);
  const record = recordOf(value);
  let json: Record<string, unknown> | undefined;
  try {
    const parsed = parseJsonExact(new TextDecoder('utf-8', { fatal: true }).decode(value));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      json = parsed as Record<string, unknown>;
    }
  } catch {
    json = undefined;
  }
  for (const options of [envelope, mapped]) {
    const decoded = decodeRecord(record, options);
    if (decoded.kind === 'invalid') {
      expectThat(decoded.invalid.reason.length > 0, 'a dead letter has a reason', decoded);
      continue;
    }
    const { event } = decoded;
    expectThat(
      json !== undefined,
      'only a JSON object decodes to an event',
      value.toString('latin1'),
    );
    const fields = json as Record<string, unknown>;
    const isMapped = options.format === 'mapped';
    const seq = fields[isMapped ? 'sequence_id' : 'seq'];
    expectThat(
      seq === undefined ? event.sequence === null : event.sequence?.seq === integerText(seq),
      'the seq is the exact integer the JSON wrote',
      { seq, sequence: event.sequence },
    );
    if (event.sequence !== null) {
      const scope = isMapped ? undefined : identifierText(fields.scope);
      expectThat(
        event.sequence.scope === (scope ?? recordKey),
        "the scope is the event's, or the record key",
        { scope: fields.scope, sequence: event.sequence },
      );
    }
    const shard = isMapped ? undefined : identifierText(fields.shard);
    expectThat(event.shard === (shard ?? 'default'), "the shard is the event's, or the default", {
      shard: fields.shard,
      decoded: event.shard,
    });
    expectThat(
      event.mutation.op === (isMapped ? 'zincrby' : fields.type),
      'the mutation is the one the event names',
      { type: fields.type, op: event.mutation.op },
    );
  }
}
