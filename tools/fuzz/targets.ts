/**
 * The fuzz targets (tools/fuzz/targets/<name>.ts, each exporting `fuzz(data)`), what each needs,
 * and where their inputs live: the checked-in seed corpus and regressions, and the ignored
 * working folder (the corpus a run grows, the findings it saves).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface FuzzTarget {
  name: string;
  /** Its `fuzz()` returns a promise (Jazzer.js then runs it without --sync). */
  async: boolean;
  /** It needs a redis-server (SEQGUARD_FUZZ_REDIS_URL). */
  redis: boolean;
}

export const fuzzTargets: readonly FuzzTarget[] = [
  { name: 'msk-event', async: false, redis: false },
  { name: 'event-value', async: false, redis: false },
  { name: 'int64', async: false, redis: false },
  { name: 'position-token', async: false, redis: false },
  { name: 'guard-differential', async: true, redis: true },
];

export const fuzzFolder = import.meta.dirname;
/** Checked in: seeds from the test fixtures (seed-corpus.ts writes them). */
export const seedCorpus = (target: string) => join(fuzzFolder, 'corpus', target);
/** Checked in: every finding, kept as a regression input (test/unit/tools/fuzz-targets.test.ts). */
export const regressions = (target: string) => join(fuzzFolder, 'regressions', target);
/** Ignored: what runs grow and find. */
export const workFolder = join(fuzzFolder, '..', '..', '.fuzz');

/** A target's `fuzz()`, loaded in this process (the regression test, --reproduce). */
export async function loadTarget(
  name: string,
): Promise<(data: Uint8Array) => void | Promise<void>> {
  const module = (await import(`./targets/${name}.ts`)) as {
    fuzz: (data: Uint8Array) => void | Promise<void>;
  };
  return module.fuzz;
}

/** A target's checked-in inputs, seeds then regressions, as [`corpus/<file>` or `regressions/<file>`, path]. */
export function checkedInInputs(target: string): [string, string][] {
  return [
    ['corpus', seedCorpus(target)],
    ['regressions', regressions(target)],
  ].flatMap(([kind, folder]) =>
    existsSync(folder as string)
      ? readdirSync(folder as string)
          .sort()
          .map((file): [string, string] => [`${kind}/${file}`, join(folder as string, file)])
      : [],
  );
}
