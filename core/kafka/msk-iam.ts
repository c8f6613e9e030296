/**
 * Amazon MSK's IAM authentication for every Kafka client of the project (producer, admin,
 * readers): TLS plus SASL/OAUTHBEARER with tokens from aws-msk-iam-sasl-signer-js. The signer
 * and the MSK API client carry much of the AWS SDK: each is loaded at its first use, not with
 * this module, which the functions load at cold start.
 */
import { MskIamTokenError } from '../errors.ts';

export interface MskIamTokenProviderOptions {
  region: string;
  /** A token is replaced this long before it expires, so no handshake sends a stale one. */
  refreshMarginMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/**
 * An async SASL/OAUTHBEARER token provider for MSK IAM auth. The signer presigns a
 * `kafka-cluster:Connect` URL offline with credentials from the default AWS provider chain
 * (environment, profile, container or instance role). The token is cached until shortly before
 * its expiryTime: every connection to every broker asks for one, and the client re-authenticates
 * each connection before the session MSK granted runs out.
 */
export function createMskIamTokenProvider(
  options: MskIamTokenProviderOptions,
): () => Promise<string> {
  const refreshMarginMs = options.refreshMarginMs ?? 60_000;
  const now = options.now ?? Date.now;
  let cached: { token: string; expiryTime: number } | undefined;
  let signing: Promise<{ token: string; expiryTime: number }> | undefined;

  async function signNewToken() {
    try {
      const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
      return await generateAuthToken({ region: options.region });
    } catch (error) {
      throw new MskIamTokenError(`cannot sign an MSK IAM token for ${options.region}`, {
        cause: error,
      });
    }
  }

  return async function mskIamToken(): Promise<string> {
    if (cached !== undefined && cached.expiryTime - refreshMarginMs > now()) return cached.token;
    // Connections opened at the same time share one signing.
    signing ??= signNewToken().finally(() => {
      signing = undefined;
    });
    cached = await signing;
    return cached.token;
  };
}

/**
 * The SASL options of a @platformatic/kafka client that authenticates to MSK with IAM; the TLS
 * they need is set by connection.ts.
 */
export function mskIamSaslOptions(region: string) {
  return { mechanism: 'OAUTHBEARER' as const, token: createMskIamTokenProvider({ region }) };
}

/**
 * The IAM bootstrap brokers of an MSK cluster
 * (https://docs.aws.amazon.com/msk/latest/developerguide/msk-get-bootstrap-brokers.html).
 */
export async function mskBootstrapBrokers(
  clusterArn: string,
  region: string | undefined,
): Promise<string[]> {
  const { KafkaClient, GetBootstrapBrokersCommand } = await import('@aws-sdk/client-kafka');
  const client = new KafkaClient(region ? { region } : {});
  try {
    const brokers = await client.send(new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }));
    const list = brokers.BootstrapBrokerStringSaslIam ?? brokers.BootstrapBrokerStringPublicSaslIam;
    if (!list)
      throw new MskIamTokenError(`cluster ${clusterArn} has no IAM (SASL/OAUTHBEARER) listener`);
    return list.split(',');
  } finally {
    client.destroy();
  }
}
