import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadSinkConfig } from '../../../core/config/config.ts';
import { ConfigError, RedisAuthSecretError } from '../../../core/errors.ts';
import {
  parseRedisCredentials,
  readSecretString,
  withRedisAuthSecret,
} from '../../../core/redis/auth-secret.ts';
import { createRedisClient } from '../../../core/redis/client.ts';

const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:seqguard/redis-AbCdEf';
const tlsOptions = {
  url: 'rediss://cache.example:6379',
  cluster: true,
  commandTimeoutMs: 2000,
  authSecretArn: secretArn,
};

describe('parseRedisCredentials()', () => {
  it('reads the JSON the CDK stack generates', () => {
    expect(
      parseRedisCredentials('{"username":"seqguard","password":"s3cret-s3cret-s3cret"}'),
    ).toEqual({ username: 'seqguard', password: 's3cret-s3cret-s3cret' });
  });

  it('takes a bare string as the password of the default user', () => {
    expect(parseRedisCredentials('  an-auth-token-of-32-characters  ')).toEqual({
      password: 'an-auth-token-of-32-characters',
    });
  });

  it.each([
    ['', /empty/],
    ['{"password": ', /not valid JSON/],
    ['{"username": "u"}', /no "password"/],
    ['{"username": 7, "password": "p"}', /"username" must be a string/],
  ])('refuses %j', (secret, message) => {
    expect(() => parseRedisCredentials(secret)).toThrow(RedisAuthSecretError);
    expect(() => parseRedisCredentials(secret)).toThrow(message);
  });
});

describe('withRedisAuthSecret()', () => {
  it('leaves the options alone when no secret is configured', async () => {
    // Prepare
    const readSecret = vi.fn();
    const options = { url: 'redis://127.0.0.1:6379', cluster: false, commandTimeoutMs: 2000 };
    // Act
    const resolved = await withRedisAuthSecret(options, readSecret);
    // Assess
    expect(resolved).toBe(options);
    expect(readSecret).not.toHaveBeenCalled();
  });

  it("merges the secret's credentials into the connection options", async () => {
    // Prepare
    const readSecret = vi.fn(async () => '{"username":"seqguard","password":"pw-from-the-secret"}');
    // Act
    const resolved = await withRedisAuthSecret(tlsOptions, readSecret);
    // Assess
    expect(readSecret).toHaveBeenCalledWith(secretArn);
    expect(resolved).toEqual({
      ...tlsOptions,
      username: 'seqguard',
      password: 'pw-from-the-secret',
    });
  });

  it('refuses to send a password to a Redis without TLS, before reading the secret', async () => {
    const readSecret = vi.fn(async () => 'pw');
    const attempt = withRedisAuthSecret(
      { ...tlsOptions, url: 'redis://cache.example:6379' },
      readSecret,
    );
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/rediss:\/\//);
    expect(readSecret).not.toHaveBeenCalled();
  });

  it('names the secret when it cannot be read, keeping the cause', async () => {
    const denied = new Error('AccessDeniedException');
    const attempt = withRedisAuthSecret(tlsOptions, async () => {
      throw denied;
    });
    await expect(attempt).rejects.toBeInstanceOf(RedisAuthSecretError);
    await expect(attempt).rejects.toMatchObject({ cause: denied });
    await expect(attempt).rejects.toThrow(secretArn);
  });
});

describe('readSecretString()', () => {
  let server: Server | undefined;
  afterEach(async () => {
    vi.unstubAllEnvs();
    server?.close();
    await (server ? once(server, 'close') : undefined);
    server = undefined;
  });

  it('calls GetSecretValue through the AWS SDK', async () => {
    // Prepare: a stand-in Secrets Manager endpoint on this machine, fake static credentials.
    const requests: { target: string | undefined; body: unknown }[] = [];
    server = createServer(async (request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      requests.push({
        target: request.headers['x-amz-target'] as string | undefined,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ ARN: secretArn, SecretString: '{"password":"from-sdk"}' }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', `http://127.0.0.1:${port}`);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAIOSFODNN7EXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    vi.stubEnv('AWS_SESSION_TOKEN', undefined);
    vi.stubEnv('AWS_PROFILE', undefined);
    // Act
    const secretString = await readSecretString(secretArn);
    // Assess
    expect(secretString).toBe('{"password":"from-sdk"}');
    expect(requests).toEqual([
      { target: 'secretsmanager.GetSecretValue', body: { SecretId: secretArn } },
    ]);
  });
});

describe('loadSinkConfig() and createRedisClient() with a secret', () => {
  it('reads SEQGUARD_REDIS_AUTH_SECRET_ARN and refuses anything but a secret ARN', () => {
    const config = loadSinkConfig({
      REDIS_URL: 'rediss://cache.example:6379',
      SEQGUARD_REDIS_AUTH_SECRET_ARN: secretArn,
    });
    expect(config.redis.authSecretArn).toBe(secretArn);
    expect(() =>
      loadSinkConfig({ REDIS_URL: 'rediss://c:6379', SEQGUARD_REDIS_AUTH_SECRET_ARN: 'hunter2' }),
    ).toThrow(/SEQGUARD_REDIS_AUTH_SECRET_ARN: a Secrets Manager secret ARN/);
  });

  it("connects with the secret's credentials rather than the URL's", () => {
    const client = createRedisClient({
      url: 'rediss://url-user:url-password@127.0.0.1:1',
      cluster: false,
      commandTimeoutMs: 100,
      username: 'seqguard',
      password: 'pw-from-the-secret',
      onError: () => {},
    });
    try {
      expect(client.options).toMatchObject({
        username: 'seqguard',
        password: 'pw-from-the-secret',
      });
    } finally {
      client.disconnect();
    }
  });

  it("gives every cluster node the secret's credentials", () => {
    const cluster = createRedisClient({
      url: 'rediss://127.0.0.1:1',
      cluster: true,
      commandTimeoutMs: 100,
      username: 'seqguard',
      password: 'pw-from-the-secret',
      onError: () => {},
    });
    try {
      expect(cluster.options).toMatchObject({
        redisOptions: { username: 'seqguard', password: 'pw-from-the-secret', tls: {} },
      });
    } finally {
      cluster.disconnect();
    }
  });
});
