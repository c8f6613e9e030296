/**
 * The repository's cache (.cache/, ignored): what the local runtime fetches or builds once (the
 * Kafka jars, the MSK IAM validator, the Lambda runtime tools), and the lock that lets parallel
 * first calls (test files starting together) wait for one build.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalRuntimeError } from './errors.ts';

export const CACHE_DIR = resolve(import.meta.dirname, '..', '..', '.cache');

/** How long a caller waits for another's build (a Maven fetch, a Go build) before giving up. */
const LOCK_TIMEOUT_MS = 10 * 60_000;

/**
 * Takes a lock dir holding the owner's pid. Resolves with a release function, or with undefined
 * when `isDone` turns true while waiting (another process did the work). A lock whose owner has
 * died is taken over.
 */
export async function acquireLock(
  lockDir: string,
  isDone: () => Promise<boolean>,
): Promise<(() => Promise<void>) | undefined> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid), 'utf8');
      return () => rm(lockDir, { recursive: true, force: true });
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) {
        throw error;
      }
    }
    if (await isDone()) {
      return undefined;
    }
    if (await isStaleLock(lockDir)) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new LocalRuntimeError(
        `waited ${LOCK_TIMEOUT_MS / 1000} s for ${lockDir}; remove it if nothing is building`,
      );
    }
    await sleep(500);
  }
}

async function isStaleLock(lockDir: string): Promise<boolean> {
  const pid = Number(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => ''));
  if (pid > 0) {
    return !isProcessAlive(pid);
  }
  // No pid yet: the owner is between mkdir and writeFile, unless it died right there.
  const info = await stat(lockDir).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > 30_000;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, 'EPERM');
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
