/**
 * Production's security shape for a scenario's clients and its function: the function's Redis
 * password from a local Secrets Manager, Kafka over SASL_SSL with MSK IAM tokens, and a line per
 * connection saying how it was secured.
 */
import type { KafkaConnection } from '../../core/index.ts';
import { type KafkaBroker, secureKafkaEnv } from '../emulators/kafka/broker.ts';
import type { RedisAccess } from '../emulators/redis/access.ts';
import { startSecretsServer } from '../emulators/secrets-server.ts';

/** How the function and the run's own clients reach a Redis started in production's shape. */
export interface SecuredRedis {
  /** What the function needs besides REDIS_URL: the secret's ARN and the CA. */
  functionEnv: Record<string, string>;
  /** What a client of the run itself passes to createRedisClient(). */
  clientOptions: { username: string; password: string; tlsCaFile: string };
  /** How the connections to Redis are secured, for the report. */
  security: string;
}

/**
 * The function reads the Redis password as it does in AWS, from the Secrets Manager API: a local
 * one (moto's server) is started, holding the ACL user's credentials, and put on `resources`.
 */
export async function secureRedisAccess(
  access: RedisAccess,
  resources: AsyncDisposableStack,
): Promise<SecuredRedis> {
  const secrets = await startSecretsServer();
  resources.defer(() => secrets.stop());
  const arn = await secrets.createRedisAuthSecret({
    username: access.username,
    password: access.password,
  });
  return {
    functionEnv: {
      ...secrets.env,
      SEQGUARD_REDIS_AUTH_SECRET_ARN: arn,
      SEQGUARD_REDIS_CA_FILE: access.caFile,
    },
    clientOptions: {
      username: access.username,
      password: access.password,
      tlsCaFile: access.caFile,
    },
    security: `TLS (verified against the local CA) as ACL user "${access.username}" (default user off), its password read from the Secrets Manager API at ${secrets.endpoint} (moto)`,
  };
}

/** How the run's clients and the function reach a broker. */
export interface KafkaClients {
  /** The bootstrap address clients use, and how they reach it. */
  connection: Omit<KafkaConnection, 'clientId'>;
  functionEnv: Record<string, string>;
  security: string;
}

/**
 * The clients of a broker: over its SASL_SSL listener with MSK IAM tokens when it has one (every
 * client of this process signs with the credentials the broker checks), else plaintext.
 */
export function kafkaClientsOf(
  broker: Pick<KafkaBroker, 'bootstrap' | 'mskIam'>,
  plaintextSecurity: string,
): KafkaClients {
  const listener = broker.mskIam;
  if (!listener)
    return {
      connection: { bootstrapBrokers: [broker.bootstrap] },
      functionEnv: {},
      security: plaintextSecurity,
    };
  const functionEnv = secureKafkaEnv(listener);
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: functionEnv.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: functionEnv.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: functionEnv.AWS_REGION,
  });
  return {
    connection: {
      bootstrapBrokers: [listener.bootstrap],
      mskIam: { region: listener.credentials.region },
      tlsCaPem: listener.caPem,
    },
    functionEnv,
    security:
      'SASL_SSL with an MSK IAM token (SigV4, checked by the broker), TLS verified against the local CA',
  };
}
