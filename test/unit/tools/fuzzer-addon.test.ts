/**
 * The patch that makes Jazzer.js's prebuilt addon load on an older glibc
 * (tools/fuzz/fuzzer-addon.ts), on the addon the package installs: its ELF edits are the ones
 * the loader needs and change nothing else. That the patched addon loads and fuzzes is what
 * `npm run fuzz -- --quick` shows in CI.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FuzzSetupError } from '../../../tools/errors.ts';
import { fuzzerAddonPath, patchVersions } from '../../../tools/fuzz/fuzzer-addon.ts';

/** The addon as the package ships it: its backup once patched here. */
function shippedAddon(): Buffer {
  const addon = fuzzerAddonPath();
  return readFileSync(existsSync(`${addon}.orig`) ? `${addon}.orig` : addon);
}

const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

describe('patchVersions()', () => {
  it.runIf(onLinuxX64)('edits only version fields, and gives the same bytes twice', () => {
    // Prepare
    const shipped = shippedAddon();
    // Act
    const once = patchVersions(Buffer.from(shipped));
    const twice = patchVersions(Buffer.from(once));
    // Assess: three 2-byte .gnu.version entries and two vna_flags, at most 10 bytes.
    const changed = [...shipped].filter((byte, i) => byte !== once[i]).length;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThanOrEqual(10);
    expect(once.length).toBe(shipped.length);
    expect(twice.equals(once)).toBe(true);
  });

  it('refuses a file that is not the addon it was written for', () => {
    expect(() => patchVersions(Buffer.from('not an ELF file at all, just text'))).toThrow(
      FuzzSetupError,
    );
  });
});
