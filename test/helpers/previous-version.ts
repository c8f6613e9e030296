/**
 * The code of an earlier commit, to run beside the current code as a rolling deploy does
 * (test/integration/rolling-deploy.test.ts): taken from the repository's git history with
 * `git archive`, given the repository's node_modules, and its Lua bundled by its own
 * lua/bundle.ts. Kept under .cache/previous-version/<commit>, made once.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo-root.ts';

/**
 * The last commit that changed what seqguard writes to Redis before the version stamp: stream
 * format 3 as it is written now (87a722c, "Stream entry in one generated expression per
 * mutation"; docs/versioning.md lists the history). The stamp itself adds fields that code
 * ignores. When a commit changes the layout or the stream format, it becomes this commit's
 * successor here, so the test always runs the current code beside the one it replaces.
 */
export const lastLayoutChange = '87a722cddf4d756af66b87127daf1d92b219456b';

export interface PreviousVersion {
  commit: string;
  /** The root of its files. */
  root: string;
  /** Its apply-events handler module, for the source sandbox. */
  applyEventsModule: string;
}

function git(args: string[]): Buffer {
  return execFileSync('git', args, {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The files of `commit`, ready to run; throws, naming the fix, when history lacks it. */
export function previousVersion(commit = lastLayoutChange): PreviousVersion {
  const root = join(repoRoot, '.cache', 'previous-version', commit);
  const version = {
    commit,
    root,
    applyEventsModule: join(root, 'functions', 'apply-events', 'handler.ts'),
  };
  if (existsSync(join(root, '.ready'))) return version;
  try {
    git(['cat-file', '-e', `${commit}^{commit}`]);
  } catch {
    throw new Error(
      `the rolling-deploy test runs the code of commit ${commit.slice(0, 12)} beside the current code, and this clone's history lacks it (a shallow clone?): run \`git fetch --unshallow\``,
    );
  }
  const building = `${root}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  // The function's code alone: the library, the handlers, the Lua and the package's manifest.
  const parts = ['package.json', 'core', 'functions', 'lua'];
  execFileSync('tar', ['-x', '-C', building], {
    input: git(['archive', commit, ...parts]),
    maxBuffer: 64 * 1024 * 1024,
  });
  symlinkSync(join(repoRoot, 'node_modules'), join(building, 'node_modules'), 'dir');
  execFileSync(process.execPath, ['lua/bundle.ts'], { cwd: building, stdio: 'pipe' });
  writeFileSync(join(building, '.ready'), `${commit}\n`);
  rmSync(root, { recursive: true, force: true });
  renameSync(building, root);
  return version;
}
