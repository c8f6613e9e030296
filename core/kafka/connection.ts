/**
 * The one place that builds Kafka clients. Every producer, consumer, admin and record reader of
 * the project is made here from one `KafkaConnection`, so a connection that says "MSK IAM" gives
 * every client TLS plus SASL/OAUTHBEARER: a client built anywhere else would open a plaintext
 * connection to MSK's IAM listener, which accepts only TLS
 * (https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html). Where the
 * brokers are, and how to reach them, is location.ts's: it needs no Kafka client.
 */
import { rootCertificates } from 'node:tls';
import {
  Admin,
  type AdminOptions,
  Consumer,
  type ConsumerOptions,
  Producer,
  type ProducerOptions,
} from '@platformatic/kafka';
import { mskIamSaslOptions } from './msk-iam.ts';

export interface KafkaConnection {
  bootstrapBrokers: string[];
  clientId: string;
  /** Authenticate to Amazon MSK with IAM (TLS, SASL/OAUTHBEARER) in this region. */
  mskIam?: { region: string };
  /**
   * A CA certificate (PEM) trusted for the brokers' TLS on top of Node's bundled CAs, e.g. the
   * local secure broker's (local/emulators/kafka/broker.ts). Given alone, it turns on TLS without SASL.
   */
  tlsCaPem?: string;
}

/** The options every client built from a connection starts from. */
export function kafkaClientOptions(connection: KafkaConnection) {
  return {
    clientId: connection.clientId,
    bootstrapBrokers: connection.bootstrapBrokers,
    ...tlsOptions(connection),
    ...(connection.mskIam ? { sasl: mskIamSaslOptions(connection.mskIam.region) } : {}),
  };
}

/**
 * TLS whenever MSK IAM is on, since MSK's IAM listener (port 9098) accepts TLS only, or a CA is
 * given. Without a CA the default bundle is used, which trusts MSK's certificates; a given CA is
 * added to it, not put in its place. The broker's host name goes out as SNI, which Node's
 * tls.connect() leaves out unless asked, and the certificate is checked against it.
 */
function tlsOptions(connection: KafkaConnection) {
  if (!connection.mskIam && connection.tlsCaPem === undefined) return {};
  return {
    tls:
      connection.tlsCaPem === undefined ? {} : { ca: [...rootCertificates, connection.tlsCaPem] },
    tlsServerName: true,
  };
}

// Distributive: a consumer's options are a union (group or consumer-group protocol), and Omit
// on a union keeps only the keys every member has.
type Connected<T> = T extends unknown
  ? Omit<T, 'clientId' | 'bootstrapBrokers' | 'tls' | 'sasl' | 'tlsServerName'>
  : never;

/**
 * @platformatic/kafka (2.12) starts a timer per SASL connection to re-authenticate at 0.8 of the
 * session lifetime (12 minutes against MSK IAM's 15), and clears it when the client closes the
 * connection, but not when the broker does (a broker restart, a rolling update): the timer then
 * keeps the closed connection in memory, and a process that is done running for up to 12
 * minutes (the soak hung that long after its summary). Closing the connection again, once the
 * client reports it gone, clears the timer.
 */
function releasingClosedConnections<C extends object>(client: C): C {
  (client as unknown as NodeJS.EventEmitter).on(
    'client:broker:disconnect',
    ({ connection }: { connection: { close(callback: (error?: Error | null) => void): void } }) =>
      connection.close(() => {}),
  );
  return client;
}

export function createAdmin(connection: KafkaConnection, options: Connected<AdminOptions> = {}) {
  return releasingClosedConnections(new Admin({ ...options, ...kafkaClientOptions(connection) }));
}

export function createConsumer<K = Buffer, V = Buffer, HK = Buffer, HV = Buffer>(
  connection: KafkaConnection,
  options: Connected<ConsumerOptions<K, V, HK, HV>>,
): Consumer<K, V, HK, HV> {
  return releasingClosedConnections(
    new Consumer<K, V, HK, HV>({
      ...options,
      ...kafkaClientOptions(connection),
    } as ConsumerOptions<K, V, HK, HV>),
  );
}

export function createKafkaProducer<K, V, HK, HV>(
  connection: KafkaConnection,
  options: Connected<ProducerOptions<K, V, HK, HV>>,
): Producer<K, V, HK, HV> {
  return releasingClosedConnections(
    new Producer<K, V, HK, HV>({
      ...options,
      ...kafkaClientOptions(connection),
    } as ProducerOptions<K, V, HK, HV>),
  );
}

/** An admin client for the duration of `work`, closed after it whatever happens. */
export function withAdmin<T>(
  connection: KafkaConnection,
  work: (admin: Admin) => Promise<T>,
): Promise<T> {
  const admin = createAdmin(connection);
  return work(admin).finally(() => admin.close());
}
