/**
 * Redis credentials from AWS Secrets Manager. The deployed functions get the ARN of a secret
 * (SEQGUARD_REDIS_AUTH_SECRET_ARN), never the password itself: a plain environment variable is
 * visible to anyone who may read the function's configuration. The secret is read once, at cold
 * start, and merged into the connection options.
 */
import { ConfigError, RedisAuthSecretError, SeqguardError } from '../errors.ts';
import type { RedisConnectionOptions } from './client.ts';

export interface RedisCredentials {
  /** An ElastiCache RBAC user; absent for the AUTH token of the default user. */
  username?: string;
  password: string;
}

/** Reads the SecretString of a secret. */
export type SecretReader = (secretArn: string) => Promise<string>;

/**
 * The credentials a secret holds: JSON `{"username": "…", "password": "…"}` (what the CDK stack
 * generates; `username` optional), or the bare password as the whole string.
 */
export function parseRedisCredentials(secretString: string): RedisCredentials {
  const text = secretString.trim();
  if (!text.startsWith('{')) {
    if (text === '') throw new RedisAuthSecretError('the Redis auth secret is empty');
    return { password: text };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RedisAuthSecretError('the Redis auth secret is not valid JSON', { cause: error });
  }
  const { username, password } = json as { username?: unknown; password?: unknown };
  if (typeof password !== 'string' || password === '') {
    throw new RedisAuthSecretError('the Redis auth secret has no "password" string');
  }
  if (username !== undefined && (typeof username !== 'string' || username === '')) {
    throw new RedisAuthSecretError('the Redis auth secret\'s "username" must be a string');
  }
  return username === undefined ? { password } : { username, password };
}

/** GetSecretValue through the AWS SDK (loaded only when a secret is configured). */
export async function readSecretString(secretArn: string): Promise<string> {
  const { SecretsManagerClient, GetSecretValueCommand } = await import(
    '@aws-sdk/client-secrets-manager'
  );
  // The secret's own region, so an ARN from another region still resolves.
  const region = secretArn.split(':')[3];
  const client = new SecretsManagerClient(region ? { region } : {});
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (SecretString === undefined) {
      throw new RedisAuthSecretError(`secret ${secretArn} has no SecretString`);
    }
    return SecretString;
  } finally {
    client.destroy();
  }
}

/**
 * The connection options with the credentials of `options.authSecretArn` merged in; unchanged
 * when no secret is configured. The secret's credentials win over any in the URL.
 */
export async function withRedisAuthSecret(
  options: RedisConnectionOptions,
  readSecret: SecretReader = readSecretString,
): Promise<RedisConnectionOptions> {
  const secretArn = options.authSecretArn;
  if (secretArn === undefined) return options;
  if (!options.url.startsWith('rediss:')) {
    // A password sent in clear text over the network is no longer a secret.
    throw new ConfigError(
      'SEQGUARD_REDIS_AUTH_SECRET_ARN needs a rediss:// (TLS) REDIS_URL: the password would travel unencrypted',
    );
  }
  let secretString: string;
  try {
    secretString = await readSecret(secretArn);
  } catch (error) {
    if (error instanceof SeqguardError) throw error;
    throw new RedisAuthSecretError(`cannot read the Redis auth secret ${secretArn}`, {
      cause: error,
    });
  }
  return { ...options, ...parseRedisCredentials(secretString) };
}
