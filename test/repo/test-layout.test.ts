/**
 * The tests mirror the source: unit tests sit in a folder named for the part they test (a folder
 * of core/, or a top-level one such as bench/, local/ and tools/, or a scenario of local/);
 * fixtures (MSK events, handlers the sandbox runs) are apart from the helpers.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/repo-root.ts';

const folders = (path: string) =>
  readdirSync(join(repoRoot, path)).filter((name) =>
    statSync(join(repoRoot, path, name)).isDirectory(),
  );

describe('the layout of test/', () => {
  it('keeps every unit test in a folder named for the part it tests', () => {
    const unit = readdirSync(join(repoRoot, 'test', 'unit'));
    expect(unit.filter((name) => name.endsWith('.ts'))).toEqual([]);
    const parts = new Set([...folders('core'), ...folders('.'), ...folders('local')]);
    expect(unit.length).toBeGreaterThan(5);
    expect(unit.filter((area) => !parts.has(area))).toEqual([]);
  });

  it('keeps fixtures apart from the helpers', () => {
    const helpers = readdirSync(join(repoRoot, 'test', 'helpers'));
    expect(helpers.filter((name) => /handler\.ts$|\.json$/.test(name))).toEqual([]);
    expect(readdirSync(join(repoRoot, 'test', 'fixtures', 'events')).length).toBeGreaterThan(0);
  });
});
