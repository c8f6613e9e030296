/**
 * Codecs of the values the Lua guard stores, for the TypeScript side that reads them back. The
 * Lua side writes them in `lua/includes/` (the gap member in `gapLedger.lua`).
 */

/** An open range of missing seqs of one cursor field, as the gap ledger stores it. */
export interface GapRange {
  /** The cursor field: `s:<scope>` (only sequence fields have gaps). */
  field: string;
  first: bigint;
  last: bigint;
}

const SEQ_WIDTH = 20;

/**
 * A gap ledger member: the 4-digit byte length of the cursor field, the field, then first and
 * last, each zero-padded to 20 digits (lua/includes/gapLedger.lua).
 */
export function decodeGapMember(member: Buffer | string): GapRange {
  const bytes = typeof member === 'string' ? Buffer.from(member, 'utf8') : member;
  const fieldLength = Number(bytes.subarray(0, 4).toString('latin1'));
  const seqs = bytes.subarray(4 + fieldLength);
  if (!Number.isInteger(fieldLength) || seqs.length !== 2 * SEQ_WIDTH)
    throw new TypeError(`not a gap ledger member: ${JSON.stringify(bytes.toString('latin1'))}`);
  return {
    field: bytes.subarray(4, 4 + fieldLength).toString('utf8'),
    first: BigInt(seqs.subarray(0, SEQ_WIDTH).toString('latin1')),
    last: BigInt(seqs.subarray(SEQ_WIDTH).toString('latin1')),
  };
}
