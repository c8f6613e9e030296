/**
 * The local broker's process and its watchdog: a JVM launched on free ports (retried when a port
 * is taken before the JVM binds it), waited for until it serves, guarded against outliving the
 * Node process that started it (local/emulators/orphan-guard.ts), and restarted (SIGKILL, then the same
 * ports and data) or stopped on demand.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stopChild, tailLines } from '../commands.ts';
import { KafkaBrokerError, PortTakenError } from '../errors.ts';
import { guardAgainstOrphan } from '../orphan-guard.ts';
import { canConnect, freePorts } from '../ports.ts';
import type { KafkaBroker, SecureKafkaListener } from './broker.ts';
import { classPath, fetchKafkaJars } from './jars.ts';
import { createTopic, log4jFlag, runKafkaTool } from './kafka-tool.ts';
import {
  type LocalAwsCredentials,
  prepareSecureSetup,
  SECURE_HOST,
  type SecureSetup,
} from './msk-iam-listener.ts';
import { BROKER_LOG4J_FILE } from './paths.ts';
import { checkJava, javaBin } from './prerequisites.ts';
import { serverProperties } from './server-properties.ts';

const READY_LOG_LINE = 'Kafka Server started';
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 3;

/** Broker heap is kept modest: tests run it next to Redis and Node workers on small machines. */
const BROKER_JVM_FLAGS = ['-Xms256m', '-Xmx512m', '-XX:+UseSerialGC', '-Djava.awt.headless=true'];

interface RunningBroker {
  child: ChildProcess;
  exited: Promise<void>;
  brokerPort: number;
  /** The SASL_SSL listener's port, when the broker has one. */
  securePort: number | undefined;
  logFile: string;
}

/** Starts a broker of its own: the handle startKafkaBroker returns when KAFKA_BROKERS is unset. */
export async function startLocalBroker(
  partitions: number,
  logDir: string | undefined,
  credentials: LocalAwsCredentials | undefined,
): Promise<KafkaBroker> {
  await checkJava();
  const libsDir = await fetchKafkaJars();
  const secure: SecureSetup | undefined =
    credentials && (await prepareSecureSetup(libsDir, credentials));
  const ownsWorkDir = logDir === undefined;
  const workDir = ownsWorkDir
    ? await mkdtemp(join(tmpdir(), 'seqguard-kafka-'))
    : await prepareLogDir(logDir);
  let running: RunningBroker;
  try {
    running = await launchWithRetries(libsDir, workDir, partitions, secure);
  } catch (error) {
    if (ownsWorkDir) {
      await rm(workDir, { recursive: true, force: true });
    }
    throw error;
  }
  let releaseGuards = guardAgainstOrphan(running.child, ownsWorkDir ? workDir : undefined);
  const bootstrap = `127.0.0.1:${running.brokerPort}`;
  let stopping: Promise<void> | undefined;
  let restarts = 0;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await stopChild(running.child, STOP_TIMEOUT_MS);
      releaseGuards();
      if (ownsWorkDir) {
        await rm(workDir, { recursive: true, force: true });
      }
    })();
    return stopping;
  };
  const restart = async (): Promise<void> => {
    if (stopping) throw new KafkaBrokerError('the broker was stopped; it cannot be restarted');
    const { child, exited } = running;
    child.kill('SIGKILL');
    await exited;
    releaseGuards();
    // The old log holds the ready line already: it is kept aside, and the new start logs anew.
    restarts += 1;
    await rename(running.logFile, `${running.logFile}.${restarts}`).catch(() => {});
    const configFile = join(workDir, 'server.properties');
    const spawned = await spawnBroker(
      libsDir,
      configFile,
      running.logFile,
      secure?.validatorClasses,
    );
    running = { ...running, ...spawned };
    releaseGuards = guardAgainstOrphan(spawned.child, ownsWorkDir ? workDir : undefined);
    await waitUntilReady(spawned.child, running.logFile, running.brokerPort);
    if (running.securePort !== undefined && !(await canConnect(running.securePort))) {
      throw new KafkaBrokerError(
        `the SASL_SSL listener on port ${running.securePort} is not accepting`,
      );
    }
  };
  const mskIam: SecureKafkaListener | undefined =
    secure && running.securePort !== undefined
      ? {
          bootstrap: `${SECURE_HOST}:${running.securePort}`,
          caPem: secure.tls.caPem,
          caFile: secure.tls.caFile,
          credentials: Object.freeze({ ...secure.credentials }),
        }
      : undefined;
  return {
    bootstrap,
    mskIam,
    get pid() {
      return running.child.pid;
    },
    logFile: running.logFile,
    get exited() {
      return running.exited;
    },
    createTopic: (name, count) => createTopic(bootstrap, name, count),
    restart,
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
  secure: SecureSetup | undefined,
): Promise<RunningBroker> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(libsDir, workDir, partitions, secure);
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
  secure: SecureSetup | undefined,
): Promise<RunningBroker> {
  const [brokerPort, controllerPort, securePort] = await freePorts(secure ? 3 : 2);
  if (brokerPort === undefined || controllerPort === undefined) {
    throw new KafkaBrokerError('could not pick free ports');
  }
  const dataDir = join(workDir, 'data');
  const logFile = join(workDir, 'broker.log');
  const configFile = join(workDir, 'server.properties');
  await rm(dataDir, { recursive: true, force: true });
  await rm(logFile, { force: true });
  await writeFile(
    configFile,
    serverProperties({
      brokerPort,
      controllerPort,
      dataDir,
      partitions,
      secure: secure && securePort !== undefined ? { ...secure, port: securePort } : undefined,
    }),
    // The file holds the listener's secret (a fake local one, but still): owner only.
    { encoding: 'utf8', mode: 0o600 },
  );
  await formatStorage(configFile);
  const { child, exited } = await spawnBroker(
    libsDir,
    configFile,
    logFile,
    secure?.validatorClasses,
  );
  try {
    await waitUntilReady(child, logFile, brokerPort);
    if (securePort !== undefined && !(await canConnect(securePort))) {
      throw new KafkaBrokerError(`the SASL_SSL listener on port ${securePort} is not accepting`);
    }
  } catch (error) {
    await stopChild(child, STOP_TIMEOUT_MS);
    throw error;
  }
  return { child, exited, brokerPort, securePort, logFile };
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
  extraClasses: string | undefined,
): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  // The JVM writes straight into the log file, so nothing in Node has to drain its output.
  const log = await open(logFile, 'a');
  try {
    const child = spawn(
      javaBin(),
      [
        ...BROKER_JVM_FLAGS,
        ...log4jFlag(BROKER_LOG4J_FILE),
        ...classPath(libsDir, extraClasses),
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
