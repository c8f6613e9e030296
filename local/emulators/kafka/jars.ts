/**
 * The jar cache: the broker jars of the pinned Kafka version, fetched once by Maven from Maven
 * Central through local/emulators/kafka/pom.xml into .cache/kafka/<version>/libs, under the cache's
 * lock (local/emulators/cache.ts), so that parallel first calls wait for one fetch.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock, CACHE_DIR } from '../cache.ts';
import { runCommand, tailLines } from '../commands.ts';
import { KafkaBrokerError } from '../errors.ts';
import { POM_FILE } from './paths.ts';
import { checkMaven } from './prerequisites.ts';

const FETCH_TIMEOUT_MS = 10 * 60_000;

/** The pinned Kafka version, read from local/emulators/kafka/pom.xml so it is written in one place only. */
export async function kafkaVersion(): Promise<string> {
  const pom = await readFile(POM_FILE, 'utf8');
  const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1]?.trim();
  if (!version) {
    throw new KafkaBrokerError(`no <kafka.version> property in ${POM_FILE}`);
  }
  return version;
}

/**
 * Makes sure the broker jars are in `.cache/kafka/<version>/libs` and returns that folder. The
 * first call runs Maven; later calls only look. Concurrent first calls (parallel test files) wait
 * on one lock, and the folder only appears, complete, through an atomic rename.
 */
export async function fetchKafkaJars(): Promise<string> {
  const version = await kafkaVersion();
  const versionDir = join(CACHE_DIR, 'kafka', version);
  const libsDir = join(versionDir, 'libs');
  const pomHash = await hashOfPom();
  const isFetched = () => hasJars(libsDir, version, pomHash);
  if (await isFetched()) {
    return libsDir;
  }
  await mkdir(versionDir, { recursive: true });
  const release = await acquireLock(join(versionDir, 'fetch.lock'), isFetched);
  if (release === undefined) {
    return libsDir;
  }
  try {
    if (!(await isFetched())) {
      await downloadJars(versionDir, libsDir, version, pomHash);
    }
  } finally {
    await release();
  }
  return libsDir;
}

/** The cached jars, and any classes folder besides, as a JVM class path. */
export function classPath(libsDir: string, extraClasses?: string): string[] {
  const entries = [join(libsDir, '*'), ...(extraClasses ? [extraClasses] : [])];
  return ['-cp', entries.join(':')];
}

async function hashOfPom(): Promise<string> {
  return createHash('sha256')
    .update(await readFile(POM_FILE))
    .digest('hex');
}

/** The marker holds the pom's hash, so editing the pom (e.g. a new dependency) refetches. */
async function hasJars(libsDir: string, version: string, pomHash: string): Promise<boolean> {
  const marker = await readFile(join(libsDir, '.pom-sha256'), 'utf8').catch(() => '');
  if (marker.trim() !== pomHash) {
    return false;
  }
  const files = await readdir(libsDir).catch(() => [] as string[]);
  return (
    files.includes(`kafka_2.13-${version}.jar`) && files.includes(`kafka-tools-${version}.jar`)
  );
}

async function downloadJars(
  versionDir: string,
  libsDir: string,
  version: string,
  pomHash: string,
): Promise<void> {
  await checkMaven();
  const staging = join(versionDir, `libs.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const result = await runCommand(
      'mvn',
      ['-q', '-B', '-f', POM_FILE, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`],
      { timeoutMs: FETCH_TIMEOUT_MS },
    );
    if (result.code !== 0) {
      throw new KafkaBrokerError(
        `mvn could not fetch the Kafka ${version} jars (exit ${result.code ?? 'timeout'}):\n${tailLines(result.stdout + result.stderr)}`,
      );
    }
    await writeFile(join(staging, '.pom-sha256'), `${pomHash}\n`, 'utf8');
    // A stale folder (older pom) is only replaced under the lock, so nobody else is renaming.
    await rm(libsDir, { recursive: true, force: true });
    await rename(staging, libsDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
