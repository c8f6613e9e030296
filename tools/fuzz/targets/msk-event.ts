/**
 * Fuzz target `msk-event`: a whole Lambda MSK event (records of several partitions; keys and
 * values base64 as Lambda writes them, or not: unpadded, whitespace, raw bytes, null, absent;
 * headers) through the sink's decode path, `decodeRecord()` for each record, in both formats.
 * Properties: decoding never throws; every record ends as an event or as a dead letter with a
 * reason, at its own coordinates (nothing lost, nothing moved); an event names a shard, a
 * registered mutation and, when sequenced, an int64 seq.
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import {
  type DecodeOptions,
  decodeRecord,
  defaultMutations,
  INT64_MAX,
  mappingSchema,
} from '../../../core/index.ts';
import { ByteReader, ByteWriter, expectThat } from '../bytes.ts';

const topics = ['payments', 'game.scores', 't', 'a-b_c.9'];
const mappings = [
  mappingSchema.parse({}),
  mappingSchema.parse({ scope: '$topicPartition', op: 'hincrby', key: 'coins' }),
  mappingSchema.parse({
    seq: 'n',
    scope: 'account',
    shard: 'tenant',
    op: 'transfer',
    key: 'balances',
    target: 'from',
    value: 'cents',
    fields: { toKey: 'vault' },
  }),
  mappingSchema.parse({ op: 'hsetIfNewer', key: 'profile', version: 'v' }),
];
const valueLimits = [65_536, 24, 0];

/** How a key or value is put in the record. */
export const encodings = [
  'base64',
  'unpadded',
  'raw',
  'null',
  'absent',
  'spaced',
  'empty',
] as const;
export type Encoding = (typeof encodings)[number];

function encoded(bytes: Buffer, how: Encoding): string | null | undefined {
  const base64 = bytes.toString('base64');
  switch (how) {
    case 'base64':
      return base64;
    case 'unpadded':
      return base64.replace(/=+$/, '');
    case 'raw':
      return bytes.toString('latin1');
    case 'null':
      return null;
    case 'absent':
      return undefined;
    case 'spaced':
      return `${base64.slice(0, 4)} ${base64.slice(4)}`;
    case 'empty':
      return '';
  }
}

/** One record of the input: what its parts are, and how they are encoded. */
export interface RecordSpec {
  topic: number;
  partition: number;
  key: Buffer;
  keyEncoding: Encoding;
  value: Buffer;
  valueEncoding: Encoding;
  headers: Buffer[];
}

export interface MskEventInput {
  format: 'envelope' | 'mapped';
  mapping: number;
  valueLimit: number;
  records: RecordSpec[];
}

export function writeInput(input: MskEventInput): Buffer {
  const out = new ByteWriter()
    .byte(input.format === 'mapped' ? 1 : 0)
    .byte(input.mapping)
    .byte(input.valueLimit);
  for (const r of input.records) {
    out.byte(r.topic).byte(r.partition);
    out.byte(encodings.indexOf(r.keyEncoding)).bytes(r.key);
    out.byte(encodings.indexOf(r.valueEncoding)).bytes(r.value);
    out.byte(r.headers.length);
    for (const header of r.headers) out.bytes(header);
  }
  return out.toBuffer();
}

function readInput(data: Uint8Array): { event: MSKEvent; options: DecodeOptions } {
  const input = new ByteReader(data);
  const options: DecodeOptions = {
    format: input.pick(['envelope', 'mapped'] as const),
    mapping: input.pick(mappings),
    maxValueBytes: input.pick(valueLimits),
    defaultShard: 'default',
  };
  const records: MSKEvent['records'] = {};
  const nextOffset = new Map<string, number>();
  for (let i = 0; i < 32 && !input.done; i++) {
    const topic = input.pick(topics);
    const partition = input.byte() % 4;
    const id = `${topic}-${partition}`;
    const offset = nextOffset.get(id) ?? 0;
    nextOffset.set(id, offset + 1);
    const keyEncoding = input.pick(encodings);
    const key = encoded(input.bytes(), keyEncoding);
    const valueEncoding = input.pick(encodings);
    const value = encoded(input.bytes(), valueEncoding);
    const headers = Array.from({ length: input.byte() % 4 }, (_, h) => ({
      [`h${h}`]: [...input.bytes()],
    }));
    const record = {
      topic,
      partition,
      offset,
      timestamp: 1_764_201_600_000 + i,
      timestampType: 'CREATE_TIME',
      ...(key === undefined ? {} : { key }),
      ...(value === undefined ? {} : { value }),
      headers,
    };
    records[id] ??= [];
    records[id].push(record as MSKRecord);
  }
  return {
    event: { eventSource: 'aws:kafka', eventSourceArn: 'arn', bootstrapServers: '', records },
    options,
  };
}

const seqText = /^(0|[1-9][0-9]*)$/;

export function fuzz(data: Uint8Array): void {
  const { event, options } = readInput(data);
  let given = 0;
  let ended = 0;
  for (const records of Object.values(event.records)) {
    for (const record of records) {
      given++;
      const decoded = decodeRecord(record, options);
      const coordinates = decoded.kind === 'event' ? decoded.event.record : decoded.invalid.record;
      expectThat(
        coordinates.topic === record.topic &&
          coordinates.partition === record.partition &&
          coordinates.offset === String(record.offset) &&
          coordinates.timestamp === record.timestamp,
        'a decoded record keeps its coordinates',
        { record, coordinates },
      );
      if (decoded.kind === 'invalid') {
        expectThat(decoded.invalid.reason.length > 0, 'a dead letter has a reason', record);
      } else {
        const { shard, sequence, mutation } = decoded.event;
        expectThat(shard.length > 0, 'an event names a shard', decoded.event);
        expectThat(
          defaultMutations.get(mutation.op) !== undefined,
          'an event names a registered mutation',
          mutation,
        );
        expectThat(
          sequence === null ||
            (seqText.test(sequence.seq) &&
              BigInt(sequence.seq) <= INT64_MAX &&
              sequence.scope.length > 0),
          'a sequenced event has a scope and an int64 seq',
          sequence,
        );
      }
      ended++;
    }
  }
  expectThat(given === ended, 'every record ends decoded or dead-lettered', { given, ended });
}
