/**
 * The versions of what seqguard keeps in Redis (core/layout/versions.ts), and the Lua's copy of
 * them (lua/includes/layout.lua), which the stamp checks use: the two must say the same. The
 * stamps on a real Redis are test/integration/layout-version.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RedisNewerLayoutError } from '../../../core/errors.ts';
import { metaField, parseMetaField } from '../../../core/layout/codecs.ts';
import {
  assertReadable,
  isNewerThanRead,
  layoutVersion,
  stampField,
  streamFormat,
} from '../../../core/layout/versions.ts';
import { repoRoot } from '../../helpers/repo-root.ts';

const layoutLua = readFileSync(join(repoRoot, 'lua', 'includes', 'layout.lua'), 'utf8');

function luaPair(names: string): [number, number] {
  const match = new RegExp(`local ${names} = (\\d+), (\\d+)`).exec(layoutLua);
  if (!match) throw new Error(`lua/includes/layout.lua declares no ${names}`);
  return [Number(match[1]), Number(match[2])];
}

describe('the version numbers', () => {
  it('are the ones the Lua writes and reads', () => {
    expect(luaPair('LAYOUT_WRITTEN, LAYOUT_READ')).toEqual([
      layoutVersion.written,
      layoutVersion.read,
    ]);
    expect(luaPair('STREAM_FORMAT_WRITTEN, STREAM_FORMAT_READ')).toEqual([
      streamFormat.written,
      streamFormat.read,
    ]);
    expect(layoutLua).toContain(
      `local META_LAYOUT, META_STREAM_FORMAT = '${stampField.layout}', '${stampField.streamFormat}'`,
    );
  });

  it('read at least what they write, or a rollback to this code could not read its own keys', () => {
    expect(layoutVersion.read).toBeGreaterThanOrEqual(layoutVersion.written);
    expect(streamFormat.read).toBeGreaterThanOrEqual(streamFormat.written);
  });
});

describe('isNewerThanRead() and assertReadable()', () => {
  it('take what this code and the versions before the stamp wrote', () => {
    expect(isNewerThanRead({})).toBe(false);
    expect(isNewerThanRead({ layout: '1', streamFormat: '3' })).toBe(false);
    expect(isNewerThanRead({ layout: '0', streamFormat: '1' })).toBe(false);
    expect(() => assertReadable('{sg:a}:meta', { layout: '1' })).not.toThrow();
  });

  it('refuse a newer layout, a newer stream format, and a stamp that is not a number', () => {
    expect(isNewerThanRead({ layout: String(layoutVersion.read + 1) })).toBe(true);
    expect(isNewerThanRead({ streamFormat: String(streamFormat.read + 1) })).toBe(true);
    expect(isNewerThanRead({ layout: '1.5' })).toBe(true);
    expect(isNewerThanRead({ streamFormat: '' })).toBe(true);
    expect(() => assertReadable('{sg:a}:meta', { streamFormat: '4' })).toThrow(
      RedisNewerLayoutError,
    );
    expect(() => assertReadable('{sg:a}:meta', { streamFormat: '4' })).toThrow(
      '{sg:a}:meta holds layout (none), stream format 4, written by a newer seqguard',
    );
  });
});

describe('the stamp fields of the meta hash', () => {
  it('are named as stamps, not as the totals of a state', () => {
    expect(parseMetaField(metaField.layout)).toEqual({ kind: 'stamp', of: 'layout' });
    expect(parseMetaField(metaField.streamFormat)).toEqual({ kind: 'stamp', of: 'streamFormat' });
  });
});
