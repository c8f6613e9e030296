/**
 * Where Kafka is, and the connection to it resolved at first use: the bootstrap brokers (looked
 * up from the MSK cluster ARN), MSK IAM and the CA to trust. Apart from connection.ts, which
 * builds the clients, so that a function that reads Kafka only now and then (apply-events, for a
 * ledger's hole) can hold a connection without loading the Kafka client at cold start.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.ts';
import type { KafkaConnection } from './connection.ts';
import { mskBootstrapBrokers } from './msk-iam.ts';

/** Where the functions and the CLI find Kafka (core/config/config.ts). */
export interface KafkaLocation {
  /** `host:port` list, or resolved from the MSK cluster ARN at first use. */
  bootstrapBrokers: string[] | undefined;
  mskClusterArn: string | undefined;
  /** IAM auth (TLS, SASL/OAUTHBEARER) in this region; on whenever a cluster ARN is given. */
  mskIamRegion: string | undefined;
  /** A PEM file of a CA to trust for the brokers' TLS (SEQGUARD_KAFKA_CA_FILE), read at first use. */
  tlsCaFile?: string | undefined;
}

/**
 * A lazy connection for a configured location: the MSK bootstrap brokers are looked up once, at
 * first use, and looked up again after a failure.
 */
export function lazyKafkaConnection(
  location: KafkaLocation,
  clientId: string,
): () => Promise<KafkaConnection> {
  let connection: Promise<KafkaConnection> | undefined;
  return () => {
    connection ??= (async () => ({
      clientId,
      bootstrapBrokers:
        location.bootstrapBrokers ??
        (await mskBootstrapBrokers(location.mskClusterArn as string, location.mskIamRegion)),
      ...(location.mskIamRegion ? { mskIam: { region: location.mskIamRegion } } : {}),
      ...(location.tlsCaFile ? { tlsCaPem: await readCaFile(location.tlsCaFile) } : {}),
    }))().catch((error: unknown) => {
      connection = undefined;
      throw error;
    });
    return connection;
  };
}

async function readCaFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the Kafka CA file ${file} (SEQGUARD_KAFKA_CA_FILE)`, {
      cause: error,
    });
  }
}
