/**
 * What `security: 'msk-iam'` adds to a broker: a SASL_SSL listener like Amazon MSK's IAM one
 * (https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html), with TLS from
 * the local runtime's certificate (local/emulators/tls-certificates.ts) and SASL/OAUTHBEARER tokens checked
 * by local/emulators/kafka/MskIamValidator.java, compiled once per source into .cache/kafka-validator.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock, CACHE_DIR } from '../cache.ts';
import { type CommandResult, runCommand, tailLines } from '../commands.ts';
import { KafkaBrokerError, MissingPrerequisiteError } from '../errors.ts';
import { localCertificates } from '../tls-certificates.ts';
import { classPath } from './jars.ts';
import { VALIDATOR_SOURCE } from './paths.ts';
import { javacBin } from './prerequisites.ts';

const VALIDATOR_CLASS = 'seqguard.local.MskIamValidator';
const TLS_DIR = join(CACHE_DIR, 'kafka-tls');
const JAVAC_TIMEOUT_MS = 120_000;
/** The host name clients of the secure listener use; the broker certificate names it. */
export const SECURE_HOST = 'localhost';

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

/** What `msk-iam` adds to a broker's launch: its TLS files, validator classes and credentials. */
export interface SecureSetup {
  tls: TlsMaterial;
  validatorClasses: string;
  credentials: LocalAwsCredentials;
}

/** The TLS material and the validator a secure broker starts with, made once per cache. */
export async function prepareSecureSetup(
  libsDir: string,
  credentials: LocalAwsCredentials,
): Promise<SecureSetup> {
  return {
    tls: await ensureTlsMaterial(),
    validatorClasses: await compileValidator(libsDir),
    credentials,
  };
}

/**
 * The SASL_SSL listener's settings, all scoped to it with `listener.name.sasl_ssl.` (Kafka docs,
 * "Listener configuration" and "SASL/OAUTHBEARER": https://kafka.apache.org/41/security/):
 * a PEM key store (KIP-651), OAUTHBEARER only, and our validator as the server callback handler,
 * which reads the accepted credentials from the listener's JAAS options.
 */
export function secureListenerProperties(secure: SecureSetup): string[] {
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
export function checkedCredentials(
  credentials: LocalAwsCredentials | undefined,
): LocalAwsCredentials {
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

interface TlsMaterial {
  caFile: string;
  caPem: string;
  /** The broker's private key (PKCS#8, unencrypted) followed by its certificate chain. */
  keystoreFile: string;
}

/**
 * The local runtime's one CA and server certificate (local/emulators/tls-certificates.ts, shared with the
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
 * Compiles local/emulators/kafka/MskIamValidator.java against the cached Kafka jars into
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
    result = await runCommand(javacBin(), args, { timeoutMs: JAVAC_TIMEOUT_MS });
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
