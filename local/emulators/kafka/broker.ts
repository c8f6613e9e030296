/**
 * A real Apache Kafka broker (single KRaft node) for local runs and tests, without Docker: the
 * broker jars come from Maven Central through local/emulators/kafka/pom.xml and run on the machine's Java.
 * With KAFKA_BROKERS set nothing is started and the handle points at those brokers instead.
 *
 * With `security: 'msk-iam'` the broker also listens like Amazon MSK's IAM listener: SASL_SSL,
 * TLS with the local runtime's certificate (local/emulators/tls-certificates.ts, .cache/tls), and
 * SASL/OAUTHBEARER whose tokens are checked by local/emulators/kafka/MskIamValidator.java, compiled once
 * per source (.cache/kafka-validator). Its plaintext listener stays for the broker's own tools.
 *
 * This file is the API; the jobs behind it, one file each: the process and its watchdog
 * (broker-process.ts), its server.properties (server-properties.ts), the secure listener
 * (msk-iam-listener.ts), the jar cache (jars.ts), Kafka's CLI tools (kafka-tool.ts), and the
 * prerequisites on the machine (prerequisites.ts).
 */
import { KafkaBrokerError } from '../errors.ts';
import { startLocalBroker } from './broker-process.ts';
import { assertPartitionCount, createTopic } from './kafka-tool.ts';
import { checkedCredentials, type LocalAwsCredentials } from './msk-iam-listener.ts';

/**
 * How clients of the broker authenticate. `plaintext`: one listener, no TLS, no authentication.
 * `msk-iam`: besides that listener (which the broker's own tools keep using), a SASL_SSL one
 * that takes only MSK IAM tokens signed with the broker's credentials, as MSK's port 9098 does
 * (https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html).
 */
export type KafkaSecurity = 'plaintext' | 'msk-iam';

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
