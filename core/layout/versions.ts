/**
 * The versions of what seqguard keeps in Redis, numbered apart from the package's own
 * (docs/versioning.md): the key layout (which keys, of which types, holding which fields) and
 * the stream entry format (the delta stream's entries). Each number is the one this code writes
 * and the newest it reads; a release that can read a newer number before it writes it is how a
 * change rolls out (docs/operations.md, "Upgrading and rolling back").
 *
 * Redis carries a stamp of each: a shard's meta hash holds the newest layout and stream format
 * written to the shard, a partition ledger the newest layout written to it. The Lua scripts
 * check it before their first write (lua/includes/checkLayoutVersion.lua, whose numbers in
 * lua/includes/layout.lua a unit test holds equal to these), and the drift check before it
 * judges a shard: a version that meets a stamp newer than it reads refuses the records, which are
 * retried, rather than misreading them.
 */
import { RedisNewerLayoutError } from '../errors.ts';

export interface VersionRange {
  /** The version this code writes (and stamps). */
  written: number;
  /** The newest version this code reads. */
  read: number;
}

/** The key layout: 1 since the first stamp; keys and fields as core/layout/keys.ts and codecs.ts. */
export const layoutVersion: VersionRange = { written: 1, read: 1 };

/** The stream entry format: 3 (`v3`), reading formats 1 and 2 as well (codecs.ts). */
export const streamFormat: VersionRange = { written: 3, read: 3 };

/** The stamp's fields, in a shard's meta hash (both) and in a partition ledger (`layout`). */
export const stampField = { layout: 'layout', streamFormat: 'streamFormat' } as const;

/** A stamp as Redis holds it: absent fields undefined (written before stamps). */
export interface LayoutStamp {
  layout?: string | undefined;
  streamFormat?: string | undefined;
}

function newer(stamp: string | undefined, range: VersionRange): boolean {
  if (stamp === undefined) return false;
  // Digits only, as the Lua writes it (lua/includes/checkLayoutVersion.lua reads it the same way).
  return !/^\d+$/.test(stamp) || Number(stamp) > range.read;
}

/** Whether a stamp names a layout or stream format newer than this code reads. */
export function isNewerThanRead(stamp: LayoutStamp): boolean {
  return newer(stamp.layout, layoutVersion) || newer(stamp.streamFormat, streamFormat);
}

/** Why a key whose stamp is newer than this code reads is refused, in words an operator can act on. */
export function newerLayoutMessage(key: string, stamp: LayoutStamp): string {
  const format = stamp.streamFormat === undefined ? '' : `, stream format ${stamp.streamFormat}`;
  const held = `layout ${stamp.layout ?? '(none)'}${format}`;
  return `${key} holds ${held}, written by a newer seqguard; this code reads layout ${layoutVersion.read} and stream format ${streamFormat.read} at most. Nothing was written and the records are retried: the newer version takes them once it runs (docs/operations.md, "Upgrading and rolling back")`;
}

/** Throws RedisNewerLayoutError when `stamp` is newer than this code reads. */
export function assertReadable(key: string, stamp: LayoutStamp): void {
  if (isNewerThanRead(stamp)) throw new RedisNewerLayoutError(newerLayoutMessage(key, stamp));
}
