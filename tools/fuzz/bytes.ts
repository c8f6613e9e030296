/**
 * The fuzz targets' input formats: the fuzzer's bytes read as a sequence of small choices and
 * length-prefixed byte strings (a past-the-end read gives zeros and empty strings, so every
 * input means something), and the writer that builds the seed corpus in the same format.
 */
import { FuzzFindingError } from '../errors.ts';

export class ByteReader {
  #at = 0;
  readonly data: Uint8Array;

  constructor(data: Uint8Array) {
    this.data = data;
  }

  get done(): boolean {
    return this.#at >= this.data.length;
  }

  byte(): number {
    return this.data[this.#at++] ?? 0;
  }

  /** A choice of `count` (one byte, modulo). */
  pick<T>(choices: readonly T[]): T {
    return choices[this.byte() % choices.length] as T;
  }

  uint16(): number {
    return (this.byte() << 8) | this.byte();
  }

  /** A string of bytes with a two-byte length. */
  bytes(): Buffer {
    const length = this.uint16();
    const start = Math.min(this.#at, this.data.length);
    this.#at += length;
    return Buffer.from(this.data.subarray(start, Math.min(this.#at, this.data.length)));
  }

  /** A signed 64-bit integer, big-endian. */
  int64(): bigint {
    let value = 0n;
    for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(this.byte());
    return BigInt.asIntN(64, value);
  }

  /** Whatever is left. */
  rest(): Buffer {
    const start = Math.min(this.#at, this.data.length);
    this.#at = this.data.length;
    return Buffer.from(this.data.subarray(start));
  }
}

export class ByteWriter {
  readonly #parts: Buffer[] = [];

  byte(value: number): this {
    this.#parts.push(Buffer.from([value & 0xff]));
    return this;
  }

  uint16(value: number): this {
    return this.byte(value >> 8).byte(value);
  }

  bytes(value: Buffer | string): this {
    const buffer = Buffer.from(value);
    this.uint16(buffer.length);
    this.#parts.push(buffer);
    return this;
  }

  int64(value: bigint): this {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64BE(value);
    this.#parts.push(buffer);
    return this;
  }

  raw(value: Buffer | string): this {
    this.#parts.push(Buffer.from(value));
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/** A property that must hold: a FuzzFindingError naming it when it does not. */
export function expectThat(holds: boolean, property: string, details?: unknown): void {
  if (holds) return;
  const shown = details === undefined ? '' : `: ${stringify(details)}`;
  throw new FuzzFindingError(`${property}${shown}`);
}

/**
 * JSON with bigints as their digits and an `n`, and objects' keys sorted: for messages, and to
 * compare values whose key order does not matter.
 */
export function stringify(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
