// A real Apache Kafka broker (single KRaft node) for local runs and tests, without Docker: the
// broker jars come from Maven Central through local/kafka/pom.xml and run on the machine's Java.
// With KAFKA_BROKERS set nothing is started and the handle points at those brokers instead.
//
// With `security: 'msk-iam'` the broker also listens like Amazon MSK's IAM listener: SASL_SSL,
// TLS with the local runtime's certificate (local/tls-certificates.ts, .cache/tls), and
// SASL/OAUTHBEARER whose tokens are checked by local/kafka/MskIamValidator.java, compiled once
// per source (.cache/kafka-validator). Its plaintext listener stays for the broker's own tools.

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
import { localCertificates } from './tls-certificates.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..');
const KAFKA_PROJECT_DIR = join(REPO_ROOT, 'local', 'kafka');
const POM_FILE = join(KAFKA_PROJECT_DIR, 'pom.xml');
const BROKER_LOG4J_FILE = join(KAFKA_PROJECT_DIR, 'broker-log4j2.properties');
const TOOLS_LOG4J_FILE = join(KAFKA_PROJECT_DIR, 'tools-log4j2.properties');
const VALIDATOR_SOURCE = join(KAFKA_PROJECT_DIR, 'MskIamValidator.java');
const VALIDATOR_CLASS = 'seqguard.local.MskIamValidator';
const CACHE_DIR = join(REPO_ROOT, '.cache');
const TLS_DIR = join(CACHE_DIR, 'kafka-tls');
/** The broker certificate is made again once it has less than this left. */
/** The host name clients of the secure listener use; the broker certificate names it. */
const SECURE_HOST = 'localhost';

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

/**
 * How clients of the broker authenticate. `plaintext`: one listener, no TLS, no authentication.
 * `msk-iam`: besides that listener (which the broker's own tools keep using), a SASL_SSL one
 * that takes only MSK IAM tokens signed with the broker's credentials, as MSK's port 9098 does
 * (https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html).
 */
export type KafkaSecurity = 'plaintext' | 'msk-iam';

/** AWS credentials the secure broker accepts tokens from, and the region they are signed for. */
export interface LocalAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/**
 * The secure broker's credentials by default: fixed, so a shell can export them once, and fake,
 * so no real AWS key is ever written into a broker config.
 */
export const LOCAL_AWS_CREDENTIALS: Readonly<LocalAwsCredentials> = Object.freeze({
  accessKeyId: 'AKIALOCALSEQGUARD',
  secretAccessKey: 'local/seqguard/not-a-real-secret',
  region: 'us-east-1',
});

/** What a client needs to reach the SASL_SSL listener of a broker started with `msk-iam`. */
export interface SecureKafkaListener {
  /** Bootstrap servers of the SASL_SSL listener, `localhost:<port>` (the certificate's name). */
  readonly bootstrap: string;
  /** The CA certificate (PEM) the broker's TLS certificate is signed by. */
  readonly caPem: string;
  /** The same certificate in a file, for SEQGUARD_KAFKA_CA_FILE. */
  readonly caFile: string;
  /** The credentials and region whose MSK IAM tokens the listener accepts. */
  readonly credentials: Readonly<LocalAwsCredentials>;
}

/**
 * The environment a function (or the CLI) needs to reach a secure listener as it reaches MSK:
 * its brokers, MSK IAM on, the CA to trust, and the credentials its tokens are signed with.
 */
export function secureKafkaEnv(listener: SecureKafkaListener): Record<string, string> {
  return {
    SEQGUARD_KAFKA_BOOTSTRAP: listener.bootstrap,
    SEQGUARD_KAFKA_MSK_IAM: 'true',
    SEQGUARD_KAFKA_CA_FILE: listener.caFile,
    AWS_ACCESS_KEY_ID: listener.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: listener.credentials.secretAccessKey,
    AWS_REGION: listener.credentials.region,
  };
}

export interface StartKafkaBrokerOptions {
  /** Partitions of each topic in `topics`, and the broker's num.partitions. Default 1. */
  partitions?: number;
  /** Default `plaintext`. `msk-iam` always starts a broker of its own (KAFKA_BROKERS must be unset). */
  security?: KafkaSecurity;
  /** The credentials `msk-iam` accepts; default LOCAL_AWS_CREDENTIALS. */
  credentials?: LocalAwsCredentials;
  /** Topics to create before returning (kept if they already exist). */
  topics?: string[];
  /**
   * Work dir of the broker (config, broker.log, data). It must be empty or absent and is kept
   * after stop() for inspection. Default: a fresh temp dir that stop() removes.
   */
  logDir?: string;
}

export interface KafkaBroker extends AsyncDisposable {
  /** Bootstrap servers of the plaintext listener, e.g. `127.0.0.1:40123`. */
  readonly bootstrap: string;
  /** The SASL_SSL listener with MSK IAM auth; undefined unless started with `msk-iam`. */
  readonly mskIam: SecureKafkaListener | undefined;
  /** PID of the broker JVM; undefined for brokers named by KAFKA_BROKERS. */
  readonly pid: number | undefined;
  /** Broker output; undefined for brokers named by KAFKA_BROKERS. */
  readonly logFile: string | undefined;
  /** Settles when the current broker process ends; never for brokers named by KAFKA_BROKERS. */
  readonly exited: Promise<void>;
  /** Creates a topic; does nothing if it exists already (whatever its partition count). */
  createTopic(name: string, partitions: number): Promise<void>;
  /**
   * Kills the broker JVM (SIGKILL, as a crash would) and starts it again on the same ports and
   * the same data, as a broker restarted by its host comes back; resolves once it serves again.
   * Refused for brokers named by KAFKA_BROKERS.
   */
  restart(): Promise<void>;
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
  const security = options.security ?? 'plaintext';
  if (external && security === 'msk-iam') {
    // KAFKA_BROKERS names plaintext brokers only: nothing says which CA or credentials they take.
    throw new KafkaBrokerError(
      `KAFKA_BROKERS (${external}) names plaintext brokers; unset it to start a broker with security 'msk-iam'`,
    );
  }
  const credentials = security === 'msk-iam' ? checkedCredentials(options.credentials) : undefined;
  const broker = external
    ? externalBroker(external)
    : await startLocalBroker(partitions, options.logDir, credentials);
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
    mskIam: undefined,
    pid: undefined,
    logFile: undefined,
    exited: new Promise<void>(() => {}),
    createTopic: (name, partitions) => createTopic(bootstrap, name, partitions),
    restart: async () => {
      throw new KafkaBrokerError(
        `KAFKA_BROKERS (${bootstrap}) names brokers this runtime cannot restart`,
      );
    },
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
  /** The SASL_SSL listener's port, when the broker has one. */
  securePort: number | undefined;
  logFile: string;
}

/** What `msk-iam` adds to a broker's launch: its TLS files, validator classes and credentials. */
interface SecureSetup {
  tls: TlsMaterial;
  validatorClasses: string;
  credentials: LocalAwsCredentials;
}

async function startLocalBroker(
  partitions: number,
  logDir: string | undefined,
  credentials: LocalAwsCredentials | undefined,
): Promise<KafkaBroker> {
  await checkJava();
  const libsDir = await fetchKafkaJars();
  const secure: SecureSetup | undefined = credentials && {
    tls: await ensureTlsMaterial(),
    validatorClasses: await compileValidator(libsDir),
    credentials,
  };
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
      await stopProcess(running.child, running.exited);
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
    await stopProcess(child, exited);
    throw error;
  }
  return { child, exited, brokerPort, securePort, logFile };
}

function serverProperties(settings: {
  brokerPort: number;
  controllerPort: number;
  dataDir: string;
  partitions: number;
  secure: (SecureSetup & { port: number }) | undefined;
}): string {
  const broker = `127.0.0.1:${settings.brokerPort}`;
  const controller = `127.0.0.1:${settings.controllerPort}`;
  const secure = settings.secure;
  const listeners = [`PLAINTEXT://${broker}`, `CONTROLLER://${controller}`];
  const advertised = [...listeners];
  const protocols = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT'];
  if (secure) {
    // Bound on loopback only, advertised by the name its certificate carries, so that clients
    // verify the certificate against the host they were told to connect to.
    listeners.push(`SASL_SSL://127.0.0.1:${secure.port}`);
    advertised.push(`SASL_SSL://${SECURE_HOST}:${secure.port}`);
    protocols.push('SASL_SSL:SASL_SSL');
  }
  return `${[
    '# Single combined KRaft node written by local/kafka-broker.ts.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=${controller}`,
    `listeners=${listeners.join(',')}`,
    `advertised.listeners=${advertised.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=${protocols.join(',')}`,
    ...(secure ? secureListenerProperties(secure) : []),
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

/**
 * The SASL_SSL listener's settings, all scoped to it with `listener.name.sasl_ssl.` (Kafka docs,
 * "Listener configuration" and "SASL/OAUTHBEARER": https://kafka.apache.org/41/security/):
 * a PEM key store (KIP-651), OAUTHBEARER only, and our validator as the server callback handler,
 * which reads the accepted credentials from the listener's JAAS options.
 */
function secureListenerProperties(secure: SecureSetup): string[] {
  const { accessKeyId, secretAccessKey, region } = secure.credentials;
  const prefix = 'listener.name.sasl_ssl';
  return [
    `${prefix}.ssl.keystore.type=PEM`,
    `${prefix}.ssl.keystore.location=${secure.tls.keystoreFile}`,
    `${prefix}.sasl.enabled.mechanisms=OAUTHBEARER`,
    // The broker also logs in on every SASL listener, as a client would, even though it talks to
    // itself over PLAINTEXT: without a subject claim for that unused token it does not start.
    `${prefix}.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="seqguard-local-broker" accessKeyId="${accessKeyId}" secretAccessKey="${secretAccessKey}" region="${region}";`,
    `${prefix}.oauthbearer.sasl.server.callback.handler.class=${VALIDATOR_CLASS}`,
    // A session lasts as long as its token at most, so clients must re-authenticate (KIP-368),
    // as MSK makes them do.
    `${prefix}.oauthbearer.connections.max.reauth.ms=900000`,
  ];
}

/** JAAS and properties quoting are not worth getting right for characters no AWS key has. */
function checkedCredentials(credentials: LocalAwsCredentials | undefined): LocalAwsCredentials {
  const chosen = credentials ?? LOCAL_AWS_CREDENTIALS;
  for (const [name, value] of Object.entries(chosen)) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9/+=._-]+$/.test(value)) {
      throw new KafkaBrokerError(
        `credentials.${name} must be a non-empty string of letters, digits and /+=._-`,
      );
    }
  }
  return { ...chosen };
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
// TLS material and the MSK IAM validator, made once per cache

interface TlsMaterial {
  caFile: string;
  caPem: string;
  /** The broker's private key (PKCS#8, unencrypted) followed by its certificate chain. */
  keystoreFile: string;
}

/**
 * The local runtime's one CA and server certificate (local/tls-certificates.ts, shared with the
 * secure Redis), as the PEM key store Kafka reads (KIP-651): key, certificate, CA in one file,
 * written aside and renamed into place so brokers that start together never read half a file.
 */
async function ensureTlsMaterial(): Promise<TlsMaterial> {
  const certificates = await localCertificates();
  const [key, certificate, caPem] = (await Promise.all(
    [certificates.keyFile, certificates.certFile, certificates.caFile].map((file) =>
      readFile(file, 'utf8'),
    ),
  )) as [string, string, string];
  const keystore = `${key}${certificate}${caPem}`;
  const keystoreFile = join(TLS_DIR, 'broker-keystore.pem');
  if ((await readFile(keystoreFile, 'utf8').catch(() => undefined)) !== keystore) {
    await mkdir(TLS_DIR, { recursive: true });
    const staging = `${keystoreFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(staging, keystore, { encoding: 'utf8', mode: 0o600 });
    await rename(staging, keystoreFile);
  }
  return { caFile: certificates.caFile, caPem, keystoreFile };
}

/**
 * Compiles local/kafka/MskIamValidator.java against the cached Kafka jars into
 * `.cache/kafka-validator/<hash>`, keyed by the source and the jars, and returns that classes
 * folder. Like the jar cache: one lock for concurrent first calls, an atomic rename at the end.
 */
async function compileValidator(libsDir: string): Promise<string> {
  const source = await readFile(VALIDATOR_SOURCE);
  const key = createHash('sha256')
    .update(source)
    .update(await readFile(join(libsDir, '.pom-sha256')))
    .digest('hex')
    .slice(0, 16);
  const baseDir = join(CACHE_DIR, 'kafka-validator');
  const classesDir = join(baseDir, key);
  const classFile = `${join(classesDir, ...VALIDATOR_CLASS.split('.'))}.class`;
  const isCompiled = () =>
    stat(classFile).then(
      () => true,
      () => false,
    );
  if (await isCompiled()) {
    return classesDir;
  }
  await mkdir(baseDir, { recursive: true });
  const release = await acquireLock(join(baseDir, `${key}.lock`), isCompiled);
  if (release === undefined) {
    return classesDir;
  }
  const staging = `${classesDir}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    if (!(await isCompiled())) {
      await runJavac(['--release', '17', ...classPath(libsDir), '-d', staging, VALIDATOR_SOURCE]);
      await rm(classesDir, { recursive: true, force: true });
      await rename(staging, classesDir);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
    await release();
  }
  return classesDir;
}

async function runJavac(args: string[]): Promise<void> {
  let result: CommandResult;
  try {
    result = await runCommand(javacBin(), args, { timeoutMs: TOOL_TIMEOUT_MS });
  } catch (error) {
    throw new MissingPrerequisiteError(
      `a JDK (javac) is needed once to compile the local broker's MSK IAM validator but ${javacBin()} could not be run; install it with: apt-get install openjdk-17-jdk-headless`,
      { cause: error },
    );
  }
  if (result.code !== 0) {
    throw new KafkaBrokerError(
      `javac ${VALIDATOR_SOURCE} exited ${result.code ?? 'on timeout'}:\n${tailLines(result.stderr + result.stdout)}`,
    );
  }
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

function javacBin(): string {
  const home = process.env.JAVA_HOME;
  return home ? join(home, 'bin', 'javac') : 'javac';
}

function classPath(libsDir: string, extraClasses?: string): string[] {
  const entries = [join(libsDir, '*'), ...(extraClasses ? [extraClasses] : [])];
  return ['-cp', entries.join(':')];
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
