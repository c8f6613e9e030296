/**
 * Writes the checked-in seed corpus, tools/fuzz/corpus/<target>/, in each target's input format:
 * the MSK event fixtures (test/fixtures/events/) whole and record by record, and a few inputs
 * per target at the edges its properties are about (int64's ends, tokens, a delivery). Seeds
 * give the fuzzer valid structure to start from; the inputs it finds interesting afterwards
 * stay in .fuzz/corpus/ (ignored). Run it again after changing a fixture or an input format:
 *
 *   npm run fuzz:seeds
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MSKEvent } from 'aws-lambda';
import { positionOf, positionToken } from '../../core/index.ts';
import { ByteWriter } from './bytes.ts';
import { writeInput as writeInt64Input } from './targets/int64.ts';
import { type Encoding, writeInput as writeMskInput } from './targets/msk-event.ts';
import { seedCorpus } from './targets.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'events');

function writeSeeds(target: string, seeds: ReadonlyMap<string, Buffer>): void {
  const folder = seedCorpus(target);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  for (const [name, data] of seeds) writeFileSync(join(folder, name), data);
  console.log(`fuzz: ${seeds.size} seeds for ${target}`);
}

/** A base64 text as the bytes it holds and how it was written, for the msk-event format. */
function part(text: string | null | undefined): { bytes: Buffer; encoding: Encoding } {
  if (text === null) return { bytes: Buffer.alloc(0), encoding: 'null' };
  if (text === undefined) return { bytes: Buffer.alloc(0), encoding: 'absent' };
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text
    ? { bytes, encoding: text === '' ? 'empty' : 'base64' }
    : { bytes: Buffer.from(text, 'latin1'), encoding: 'raw' };
}

function fixtureSeeds(): { events: Map<string, Buffer>; values: Map<string, Buffer> } {
  const events = new Map<string, Buffer>();
  const values = new Map<string, Buffer>();
  for (const file of readdirSync(fixtures).filter((f) => f.endsWith('.json'))) {
    const event = JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as MSKEvent;
    const records = Object.values(event.records).flat();
    const specs = records.map((record, i) => {
      const key = part(record.key);
      const value = part(record.value as string | null | undefined);
      if (value.encoding === 'base64') values.set(`${file.replace('.json', '')}-${i}`, value.bytes);
      return {
        topic: i % 4,
        partition: record.partition,
        key: key.bytes,
        keyEncoding: key.encoding,
        value: value.bytes,
        valueEncoding: value.encoding,
        headers: record.headers.flatMap((h) => Object.values(h).map((v) => Buffer.from(v))),
      };
    });
    const mapped = file.includes('seed-format') || file.includes('malformed');
    const input = { format: mapped ? 'mapped' : 'envelope', mapping: 0, valueLimit: 0 } as const;
    events.set(file.replace('.json', ''), writeMskInput({ ...input, records: specs }));
    specs.forEach((spec, i) => {
      events.set(`${file.replace('.json', '')}-${i}`, writeMskInput({ ...input, records: [spec] }));
    });
  }
  return { events, values };
}

function int64Seeds(): Map<string, Buffer> {
  const texts = [
    '0',
    '-0',
    '007',
    '9223372036854775807',
    '9223372036854775808',
    '-9223372036854775808',
    '-9223372036854775809',
    '{"seq":12345678901234567890,"delta":-9007199254740993}',
    '[1e400,-0,9007199254740993,1.5e16]',
  ];
  const ends = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n];
  return new Map(
    texts.map((text, i) => [`int64-${i}`, writeInt64Input(ends[i % 5] as bigint, text)]),
  );
}

function positionSeeds(): Map<string, Buffer> {
  const built = new ByteWriter().byte(0);
  for (const [topic, partition, offset] of [
    [0, 0, 42n],
    [0, 3, 2n ** 63n - 1n],
    [1, 1, 0n],
  ] as const) {
    built.byte(topic).byte(0).uint16(partition).int64(offset).byte(0);
  }
  const token = positionToken(
    positionOf([
      { topic: 'orders', partition: 0, offset: 7n },
      { topic: 'orders', partition: 2, offset: 9n },
      { topic: 'scores', partition: 1, offset: 12_345_678_901n },
    ]),
  );
  const body = Buffer.from(token.slice(3), 'base64url');
  return new Map([
    ['built', built.toBuffer()],
    ['token-text', new ByteWriter().byte(1).raw(token).toBuffer()],
    ['token-body', new ByteWriter().byte(2).raw(body).toBuffer()],
  ]);
}

/** Deliveries: bytes from a hash chain, so that they are the same on every run. */
function guardSeeds(): Map<string, Buffer> {
  const seeds = new Map<string, Buffer>();
  let block = Buffer.from('seqguard');
  for (let i = 0; i < 8; i++) {
    const parts: Buffer[] = [Buffer.from([i % 4])];
    for (let j = 0; j < 4 + i; j++) {
      block = createHash('sha256').update(block).digest();
      parts.push(block);
    }
    seeds.set(`delivery-${i}`, Buffer.concat(parts));
  }
  return seeds;
}

const { events, values } = fixtureSeeds();
writeSeeds('msk-event', events);
writeSeeds('event-value', values);
writeSeeds('int64', int64Seeds());
writeSeeds('position-token', positionSeeds());
writeSeeds('guard-differential', guardSeeds());
