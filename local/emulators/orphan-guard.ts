/**
 * Makes sure a server the local runtime started dies with the Node process that started it,
 * however that process ends: an 'exit' handler covers normal exits and uncaught errors; a
 * detached shell watching a pipe from Node covers signals and crashes (SIGKILL, OOM), which run
 * no handler. Either one kills the server and removes its temp folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

/** Guards `child`; returns a function that removes the guards (after a deliberate stop). */
export function guardAgainstOrphan(child: ChildProcess, tempDir: string | undefined): () => void {
  const onExit = (): void => {
    child.kill('SIGKILL');
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const watchdog = spawnWatchdog(child.pid, tempDir);
  return () => {
    process.off('exit', onExit);
    watchdog.kill('SIGKILL');
  };
}

function spawnWatchdog(pid: number | undefined, tempDir: string | undefined): ChildProcess {
  // Reads until the pipe from Node closes, which happens however Node ends.
  const script = [
    'while read -r line; do :; done',
    'kill -KILL "$1" 2>/dev/null',
    'while kill -0 "$1" 2>/dev/null; do sleep 0.1; done',
    'if [ -n "$2" ]; then rm -rf -- "$2"; fi',
  ].join('\n');
  const watchdog = spawn('sh', ['-c', script, 'seqguard-watchdog', String(pid), tempDir ?? ''], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // The pipe breaking is the signal itself, not an error to report.
  watchdog.stdin?.on('error', () => {});
  watchdog.on('error', () => {});
  watchdog.unref();
  return watchdog;
}
