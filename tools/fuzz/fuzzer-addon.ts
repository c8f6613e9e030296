/**
 * Makes Jazzer.js's native fuzzer load on this machine's glibc, once, before any fuzzing.
 *
 * `@jazzer.js/fuzzer` 4.0.0 is the only release that ships its addon inside the package (older
 * ones download it at install time, which a machine that reaches only the package registries
 * cannot do). Its Linux x64 build was linked against glibc 2.38 and GCC 13's libstdc++, and asks
 * for three symbols that Debian 12 (glibc 2.36, GCC 12) lacks: `__isoc23_strtol` and
 * `__isoc23_strtoul` (GLIBC_2.38: C23's strtol, which also reads `0b` prefixes) and
 * `std::ios_base_library_init()` (GLIBCXX_3.4.32: only a link-time anchor that makes the new
 * libstdc++ initialise the standard streams). The loader refuses the addon for the versions
 * alone, before looking at any symbol.
 *
 * When the addon does not load for that reason, this patches the copy in node_modules:
 *  1. builds a shim library beside it (fuzzer-glibc-shim.cc) that defines the three symbols
 *     with glibc 2.36's `strtol`/`strtoul` (the fuzzer parses only its own decimal options)
 *     and a stream initialiser;
 *  2. in the addon's ELF file: drops the version from the three symbols' references
 *     (`.gnu.version` entry 1, global) so that the shim's unversioned definitions satisfy them,
 *     and marks the needs GLIBC_2.38 and GLIBCXX_3.4.32 weak (VER_FLG_WEAK), so that their
 *     absence is a warning, not an error;
 *  3. with patchelf, one operation per call (patchelf 0.14 garbles the RUNPATH when given
 *     several): `--add-needed` the shim, `--set-rpath '$ORIGIN'` so the loader finds it.
 * Idempotent: an addon that loads is left alone, and a patched one loads.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FuzzSetupError } from '../errors.ts';

const shimName = 'libfuzzer-glibc-shim.so';
const shimSource = join(import.meta.dirname, 'fuzzer-glibc-shim.cc');
/** Symbols the shim defines, whose references lose their version. */
const shimmedSymbols = ['__isoc23_strtol', '__isoc23_strtoul', '_ZSt21ios_base_library_initv'];
/** Version needs that the shim stands in for. */
const weakVersions = ['GLIBC_2.38', 'GLIBCXX_3.4.32'];

/** Where the addon of the installed `@jazzer.js/fuzzer` is, for this platform. */
export function fuzzerAddonPath(): string {
  const require = createRequire(import.meta.url);
  const core = require.resolve('@jazzer.js/core/package.json');
  const fuzzer = createRequire(core).resolve('@jazzer.js/fuzzer/package.json');
  return join(dirname(fuzzer), 'prebuilds', `fuzzer-${process.platform}-${process.arch}.node`);
}

/** Why the addon does not load in a fresh Node process; undefined when it loads. */
export function addonLoadError(addon: string): string | undefined {
  const run = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], {
    encoding: 'utf8',
  });
  if (run.status === 0) return undefined;
  const line = run.stderr.split('\n').find((l) => l.startsWith('Error:'));
  return line ?? run.stderr.trim();
}

/** Loads the addon, patching it first when glibc is too old for it; says what it did. */
export function ensureFuzzerAddon(log: (line: string) => void = console.log): string {
  const addon = fuzzerAddonPath();
  const first = addonLoadError(addon);
  if (first === undefined) return addon;
  if (!/GLIBC_2\.38|GLIBCXX_3\.4\.32/.test(first)) {
    throw new FuzzSetupError(`the Jazzer.js addon does not load: ${first}`);
  }
  log(`fuzz: the Jazzer.js addon needs a newer glibc than this machine's (${first});`);
  log(`fuzz: patching ${addon} with a shim (tools/fuzz/fuzzer-addon.ts says why)`);
  if (!existsSync(`${addon}.orig`)) copyFileSync(addon, `${addon}.orig`);
  copyFileSync(`${addon}.orig`, addon);
  buildShim(join(dirname(addon), shimName));
  const patched = patchVersions(readFileSync(addon));
  writeFileSync(addon, patched);
  patchelf(['--add-needed', shimName, addon]);
  patchelf(['--set-rpath', '$ORIGIN', addon]);
  const after = addonLoadError(addon);
  if (after !== undefined) {
    throw new FuzzSetupError(`the Jazzer.js addon still does not load after patching: ${after}`);
  }
  log('fuzz: the patched addon loads');
  return addon;
}

function buildShim(output: string): void {
  const compiler = process.env.CXX ?? 'g++';
  run(compiler, ['-shared', '-fPIC', '-O2', '-o', output, shimSource], 'apt-get install g++');
}

function patchelf(args: string[]): void {
  run('patchelf', args, 'apt-get install patchelf');
}

function run(command: string, args: string[], install: string): void {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new FuzzSetupError(
      missing
        ? `${command} is needed to patch the Jazzer.js addon: ${install}`
        : `${command} ${args.join(' ')} failed`,
      { cause: error },
    );
  }
}

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entrySize: number;
}

const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const VER_FLG_WEAK = 2;
const VER_NDX_GLOBAL = 1;

function sectionsOf(elf: Buffer): Section[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) {
    throw new FuzzSetupError('the Jazzer.js addon is not a little-endian 64-bit ELF file');
  }
  const offset = Number(elf.readBigUInt64LE(0x28));
  const entrySize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  return Array.from({ length: count }, (_, i) => {
    const at = offset + i * entrySize;
    return {
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
      link: elf.readUInt32LE(at + 0x28),
      info: elf.readUInt32LE(at + 0x2c),
      entrySize: Number(elf.readBigUInt64LE(at + 0x38)),
    };
  });
}

function stringAt(elf: Buffer, table: Section, offset: number): string {
  const start = table.offset + offset;
  return elf.toString('latin1', start, elf.indexOf(0, start));
}

/**
 * The ELF edits of step 2, in place (no size changes): `.gnu.version` entries of the shimmed
 * symbols set to global, and the `.gnu.version_r` entries of the missing versions made weak.
 * Layouts: Elf64_Sym, Elf64_Verneed and Elf64_Vernaux in the System V ABI and the LSB.
 */
export function patchVersions(elf: Buffer): Buffer {
  const sections = sectionsOf(elf);
  const find = (type: number) => {
    const section = sections.find((s) => s.type === type);
    if (section === undefined) throw new FuzzSetupError(`the addon has no ELF section ${type}`);
    return section;
  };
  const symbols = find(SHT_DYNSYM);
  const symbolNames = sections[symbols.link] as Section;
  const versions = find(SHT_GNU_VERSYM);
  let cleared = 0;
  for (let i = 0; i < symbols.size / symbols.entrySize; i++) {
    const name = stringAt(
      elf,
      symbolNames,
      elf.readUInt32LE(symbols.offset + i * symbols.entrySize),
    );
    if (!shimmedSymbols.includes(name)) continue;
    elf.writeUInt16LE(VER_NDX_GLOBAL, versions.offset + i * 2);
    cleared++;
  }
  const needs = find(SHT_GNU_VERNEED);
  const needNames = sections[needs.link] as Section;
  let weakened = 0;
  let need = needs.offset;
  for (let n = 0; n < needs.info; n++) {
    let aux = need + elf.readUInt32LE(need + 8);
    for (let a = 0; a < elf.readUInt16LE(need + 2); a++) {
      if (weakVersions.includes(stringAt(elf, needNames, elf.readUInt32LE(aux + 8)))) {
        elf.writeUInt16LE(elf.readUInt16LE(aux + 4) | VER_FLG_WEAK, aux + 4);
        weakened++;
      }
      aux += elf.readUInt32LE(aux + 12);
    }
    need += elf.readUInt32LE(need + 12);
  }
  if (cleared !== shimmedSymbols.length || weakened !== weakVersions.length) {
    throw new FuzzSetupError(
      `the addon is not the one this patch was written for: ${cleared} of ${shimmedSymbols.length} symbols, ${weakened} of ${weakVersions.length} version needs found`,
    );
  }
  return elf;
}

if (import.meta.main) ensureFuzzerAddon();
