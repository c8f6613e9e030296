// A real Apache Kafka broker (single KRaft node) for local runs and tests, without Docker: the
// broker jars come from Maven Central through local/kafka/pom.xml and run on the machine's Java.
// With KAFKA_BROKERS set nothing is started and the handle points at those brokers instead.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaBrokerError, MissingPrerequisiteError } from './errors.ts';
import { guardAgainstOrphan } from './orphan-guard.ts';
import { canConnect, freePorts } from './ports.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..');
const KAFKA_PROJECT_DIR = join(REPO_ROOT, 'local', 'kafka');
const POM_FILE = join(KAFKA_PROJECT_DIR, 'pom.xml');
const BROKER_LOG4J_FILE = join(KAFKA_PROJECT_DIR, 'broker-log4j2.properties');
const TOOLS_LOG4J_FILE = join(KAFKA_PROJECT_DIR, 'tools-log4j2.properties');

const READY_LOG_LINE = 'Kafka Server started';
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;
const FETCH_TIMEOUT_MS = 10 * 60_000;
const TOOL_TIMEOUT_MS = 120_000;
const START_ATTEMPTS = 3;
const LOG_TAIL_LINES = 40;

/** Broker heap is kept modest: tests run it next to Redis and Node workers on small machines. */
const BROKER_JVM_FLAGS = ['-Xms256m', '-Xmx512m', '-XX:+UseSerialGC', '-Djava.awt.headless=true'];
/** CLI tools live for a second or two, so the C1-only JIT starts them faster and costs nothing. */
const TOOL_JVM_FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

/** The port picked for the broker was taken by someone else before the broker could bind it. */
class PortTakenError extends KafkaBrokerError {
  override name = 'PortTakenError';
}

export interface StartKafkaBrokerOptions {
  /** Partitions of each topic in `topics`, and the broker's num.partitions. Default 1. */
  partitions?: number;
  /** Topics to create before returning (kept if they already exist). */
  topics?: string[];
  /**
   * Work dir of the broker (config, broker.log, data). It must be empty or absent and is kept
   * after stop() for inspection. Default: a fresh temp dir that stop() removes.
   */
  logDir?: string;
}

export interface KafkaBroker extends AsyncDisposable {
  /** Bootstrap servers for clients, e.g. `127.0.0.1:40123`. */
  readonly bootstrap: string;
  /** PID of the broker JVM; undefined for brokers named by KAFKA_BROKERS. */
  readonly pid: number | undefined;
  /** Broker output; undefined for brokers named by KAFKA_BROKERS. */
  readonly logFile: string | undefined;
  /** Settles when the broker process ends; never for brokers named by KAFKA_BROKERS. */
  readonly exited: Promise<void>;
  /** Creates a topic; does nothing if it exists already (whatever its partition count). */
  createTopic(name: string, partitions: number): Promise<void>;
  /** Stops the broker and removes its temp dir; a no-op for brokers named by KAFKA_BROKERS. */
  stop(): Promise<void>;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
}

export async function startKafkaBroker(
  options: StartKafkaBrokerOptions = {},
): Promise<KafkaBroker> {
  const partitions = options.partitions ?? 1;
  assertPartitionCount(partitions);
  const external = process.env.KAFKA_BROKERS?.trim();
  const broker = external
    ? externalBroker(external)
    : await startLocalBroker(partitions, options.logDir);
  try {
    for (const topic of options.topics ?? []) {
      await broker.createTopic(topic, partitions);
    }
  } catch (error) {
    await broker.stop();
    throw error;
  }
  return broker;
}

/** The pinned Kafka version, read from local/kafka/pom.xml so it is written in one place only. */
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
  const versionDir = join(REPO_ROOT, '.cache', 'kafka', version);
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

/**
 * Runs one of Kafka's Java CLI tools (e.g. `org.apache.kafka.tools.TopicCommand`) from the jar
 * cache and resolves with its output; rejects when it exits non-zero or times out.
 */
export async function runKafkaTool(
  mainClass: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<ToolResult> {
  await checkJava();
  const libsDir = await fetchKafkaJars();
  const timeoutMs = options.timeoutMs ?? TOOL_TIMEOUT_MS;
  const result = await runCommand(
    javaBin(),
    [...TOOL_JVM_FLAGS, ...log4jFlag(TOOLS_LOG4J_FILE), ...classPath(libsDir), mainClass, ...args],
    { input: options.input, timeoutMs },
  );
  if (result.code !== 0) {
    const how = result.code === null ? `timed out after ${timeoutMs} ms` : `exited ${result.code}`;
    throw new KafkaBrokerError(
      `${mainClass} ${args.join(' ')} ${how}:\n${tailLines(result.stderr + result.stdout)}`,
    );
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

function externalBroker(bootstrap: string): KafkaBroker {
  const stop = async (): Promise<void> => {};
  return {
    bootstrap,
    pid: undefined,
    logFile: undefined,
    exited: new Promise<void>(() => {}),
    createTopic: (name, partitions) => createTopic(bootstrap, name, partitions),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function createTopic(bootstrap: string, name: string, partitions: number): Promise<void> {
  assertPartitionCount(partitions);
  // No --replication-factor: the brokers' default fits both one local node and a real cluster.
  await runKafkaTool('org.apache.kafka.tools.TopicCommand', [
    '--bootstrap-server',
    bootstrap,
    '--create',
    '--if-not-exists',
    '--topic',
    name,
    '--partitions',
    String(partitions),
  ]);
}

function assertPartitionCount(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new KafkaBrokerError(`partitions must be a positive integer, got ${partitions}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Local broker process

interface RunningBroker {
  child: ChildProcess;
  exited: Promise<void>;
  brokerPort: number;
  logFile: string;
}

async function startLocalBroker(
  partitions: number,
  logDir: string | undefined,
): Promise<KafkaBroker> {
  await checkJava();
  const libsDir = await fetchKafkaJars();
  const ownsWorkDir = logDir === undefined;
  const workDir = ownsWorkDir
    ? await mkdtemp(join(tmpdir(), 'seqguard-kafka-'))
    : await prepareLogDir(logDir);
  let running: RunningBroker;
  try {
    running = await launchWithRetries(libsDir, workDir, partitions);
  } catch (error) {
    if (ownsWorkDir) {
      await rm(workDir, { recursive: true, force: true });
    }
    throw error;
  }
  const releaseGuards = guardAgainstOrphan(running.child, ownsWorkDir ? workDir : undefined);
  const bootstrap = `127.0.0.1:${running.brokerPort}`;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await stopProcess(running.child, running.exited);
      releaseGuards();
      if (ownsWorkDir) {
        await rm(workDir, { recursive: true, force: true });
      }
    })();
    return stopping;
  };
  return {
    bootstrap,
    pid: running.child.pid,
    logFile: running.logFile,
    exited: running.exited,
    createTopic: (name, count) => createTopic(bootstrap, name, count),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function prepareLogDir(logDir: string): Promise<string> {
  const dir = resolve(logDir);
  await mkdir(dir, { recursive: true });
  // Storage is formatted for fresh ports and a fresh cluster id, so old data cannot be reused.
  if ((await readdir(dir)).length > 0) {
    throw new KafkaBrokerError(`logDir ${dir} must be empty or absent`);
  }
  return dir;
}

/** Ports are picked free but can be grabbed before the JVM binds them, so that case is retried. */
async function launchWithRetries(
  libsDir: string,
  workDir: string,
  partitions: number,
): Promise<RunningBroker> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(libsDir, workDir, partitions);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= START_ATTEMPTS) {
        throw error;
      }
    }
  }
}

async function launch(
  libsDir: string,
  workDir: string,
  partitions: number,
): Promise<RunningBroker> {
  const [brokerPort, controllerPort] = await freePorts(2);
  if (brokerPort === undefined || controllerPort === undefined) {
    throw new KafkaBrokerError('could not pick two free ports');
  }
  const dataDir = join(workDir, 'data');
  const logFile = join(workDir, 'broker.log');
  const configFile = join(workDir, 'server.properties');
  await rm(dataDir, { recursive: true, force: true });
  await rm(logFile, { force: true });
  await writeFile(
    configFile,
    serverProperties({ brokerPort, controllerPort, dataDir, partitions }),
    'utf8',
  );
  await formatStorage(configFile);
  const { child, exited } = await spawnBroker(libsDir, configFile, logFile);
  try {
    await waitUntilReady(child, logFile, brokerPort);
  } catch (error) {
    await stopProcess(child, exited);
    throw error;
  }
  return { child, exited, brokerPort, logFile };
}

function serverProperties(settings: {
  brokerPort: number;
  controllerPort: number;
  dataDir: string;
  partitions: number;
}): string {
  const broker = `127.0.0.1:${settings.brokerPort}`;
  const controller = `127.0.0.1:${settings.controllerPort}`;
  return `${[
    '# Single combined KRaft node written by local/kafka-broker.ts.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=${controller}`,
    `listeners=PLAINTEXT://${broker},CONTROLLER://${controller}`,
    `advertised.listeners=PLAINTEXT://${broker},CONTROLLER://${controller}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${settings.dataDir}`,
    `num.partitions=${settings.partitions}`,
    // One node cannot hold more replicas than one of the internal topics.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Tests join consumer groups often; the default 3 s delay would slow every first join.
    'group.initial.rebalance.delay.ms=0',
    // Topics must be created on purpose, as on MSK, so a typo fails instead of creating a topic.
    'auto.create.topics.enable=false',
  ].join('\n')}\n`;
}

async function formatStorage(configFile: string): Promise<void> {
  const clusterId = randomClusterId();
  // --standalone makes this node the sole voter of a dynamic (KIP-853) controller quorum.
  await runKafkaTool('kafka.tools.StorageTool', [
    'format',
    '--cluster-id',
    clusterId,
    '--config',
    configFile,
    '--standalone',
  ]).catch((error: unknown) => {
    throw new KafkaBrokerError(`formatting the storage of ${configFile} failed`, { cause: error });
  });
}

async function spawnBroker(
  libsDir: string,
  configFile: string,
  logFile: string,
): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  // The JVM writes straight into the log file, so nothing in Node has to drain its output.
  const log = await open(logFile, 'a');
  try {
    const child = spawn(
      javaBin(),
      [
        ...BROKER_JVM_FLAGS,
        ...log4jFlag(BROKER_LOG4J_FILE),
        ...classPath(libsDir),
        'kafka.Kafka',
        configFile,
      ],
      { stdio: ['ignore', log.fd, log.fd] },
    );
    const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
    await new Promise<void>((resolveSpawn, reject) => {
      child.once('spawn', resolveSpawn);
      child.once('error', (error) =>
        reject(new KafkaBrokerError('could not start the Kafka broker JVM', { cause: error })),
      );
    });
    // A forgotten stop() must not keep the Node process alive; the exit guard kills the broker.
    child.unref();
    return { child, exited };
  } finally {
    await log.close();
  }
}

async function waitUntilReady(child: ChildProcess, logFile: string, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const log = await readFile(logFile, 'utf8');
    if (child.exitCode !== null || child.signalCode !== null) {
      const message = `Kafka broker exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tailLines(log)}`;
      throw /Address already in use|BindException/.test(log)
        ? new PortTakenError(message)
        : new KafkaBrokerError(message);
    }
    if (log.includes(READY_LOG_LINE) && (await canConnect(port))) {
      return;
    }
    await sleep(200);
  }
  const log = await readFile(logFile, 'utf8').catch(() => '');
  throw new KafkaBrokerError(
    `Kafka broker not ready after ${READY_TIMEOUT_MS / 1000} s; last lines of ${logFile}:\n${tailLines(log)}`,
  );
}

/** SIGTERM lets Kafka shut down cleanly (about 3 s); SIGKILL if it hangs. */
async function stopProcess(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(killer);
}

// ---------------------------------------------------------------------------------------------
// Jar cache

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

/**
 * Takes a lock dir holding the owner's pid. Resolves with a release function, or with undefined
 * when `isDone` turns true while waiting (another process did the work). A lock whose owner has
 * died is taken over.
 */
async function acquireLock(
  lockDir: string,
  isDone: () => Promise<boolean>,
): Promise<(() => Promise<void>) | undefined> {
  const deadline = Date.now() + FETCH_TIMEOUT_MS;
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
      throw new KafkaBrokerError(
        `waited ${FETCH_TIMEOUT_MS / 1000} s for ${lockDir}; remove it if no fetch is running`,
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

// ---------------------------------------------------------------------------------------------
// Prerequisites and small helpers

const JAVA_PACKAGE_HINT =
  'install it with: apt-get install openjdk-17-jre-headless, or set KAFKA_BROKERS to a Kafka you run';
let javaCheck: Promise<void> | undefined;

function checkJava(): Promise<void> {
  javaCheck ??= checkJavaOnce();
  return javaCheck;
}

async function checkJavaOnce(): Promise<void> {
  let output: string;
  try {
    const result = await runCommand(javaBin(), ['-version'], { timeoutMs: 30_000 });
    output = result.stderr + result.stdout;
  } catch (error) {
    throw new MissingPrerequisiteError(
      `Java 17 or newer is needed for the local Kafka broker but ${javaBin()} could not be run; ${JAVA_PACKAGE_HINT}`,
      { cause: error },
    );
  }
  const major = javaMajorVersion(output);
  if (major === undefined || major < 17) {
    throw new MissingPrerequisiteError(
      `Java 17 or newer is needed for the local Kafka broker, found ${major ?? 'an unknown version'} (${javaBin()}); ${JAVA_PACKAGE_HINT}`,
    );
  }
}

/** `java -version` prints e.g. `openjdk version "17.0.15"`, or `"1.8.0_402"` before Java 9. */
function javaMajorVersion(output: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) {
    return undefined;
  }
  const first = Number(match[1]);
  return first === 1 ? Number(match[2]) : first;
}

async function checkMaven(): Promise<void> {
  try {
    const result = await runCommand('mvn', ['-v'], { timeoutMs: 60_000 });
    if (result.code === 0) {
      return;
    }
  } catch (error) {
    throw new MissingPrerequisiteError(
      'Maven is needed once to fetch the Kafka broker jars but mvn could not be run; install it with: apt-get install maven',
      { cause: error },
    );
  }
  throw new MissingPrerequisiteError(
    'mvn -v failed; check the Maven install (apt-get install maven)',
  );
}

/** JAVA_HOME wins over PATH, as it does for mvn, so both use the same JVM. */
function javaBin(): string {
  const home = process.env.JAVA_HOME;
  return home ? join(home, 'bin', 'java') : 'java';
}

function classPath(libsDir: string): string[] {
  return ['-cp', join(libsDir, '*')];
}

function log4jFlag(configFile: string): string[] {
  return [`-Dlog4j2.configurationFile=${configFile}`];
}

interface CommandResult {
  /** null when the command was killed, e.g. on timeout. */
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCommand(
  command: string,
  args: readonly string[],
  options: { input?: string | undefined; timeoutMs: number },
): Promise<CommandResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    // A command may exit without reading its input; that is its business, not an error here.
    child.stdin.on('error', () => {});
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * A random KRaft cluster id: a base64url UUID that does not start with "-", which the storage
 * tool would read as an option (Kafka's own Uuid.randomUuid() skips those ids too).
 */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
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

function tailLines(text: string, count = LOG_TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
