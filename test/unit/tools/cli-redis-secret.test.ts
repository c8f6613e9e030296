/**
 * The operator CLI takes the functions' environment (docs/configuration.md), including
 * SEQGUARD_REDIS_AUTH_SECRET_ARN: the Redis credentials come from Secrets Manager, as they do
 * for the deployed functions. Secrets Manager is played by a local HTTP endpoint
 * (AWS_ENDPOINT_URL_SECRETS_MANAGER, the SDK's service-specific endpoint variable), which
 * records the GetSecretValue call the CLI makes at start.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';

const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:seqguard-redis-AbCdEf';

describe('npm run seqguard (the operator CLI)', () => {
  it('reads the Redis credentials from SEQGUARD_REDIS_AUTH_SECRET_ARN before it connects', async () => {
    // Prepare
    const calls: { target: string; body: string }[] = [];
    let called: () => void = () => {};
    const getSecretValue = new Promise<void>((resolve) => {
      called = resolve;
    });
    const secretsManager = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        calls.push({ target: String(request.headers['x-amz-target']), body });
        response.setHeader('content-type', 'application/x-amz-json-1.1');
        response.end(
          JSON.stringify({
            ARN: secretArn,
            SecretString: JSON.stringify({ username: 'seqguard', password: 'p'.repeat(32) }),
          }),
        );
        called();
      });
    });
    await new Promise<void>((resolve) => secretsManager.listen(0, '127.0.0.1', resolve));
    const { port } = secretsManager.address() as { port: number };
    // Act
    const cli = spawn(
      process.execPath,
      ['tools/seqguard.ts', 'rebuild', '--shard', 'default', '--key', 'scores'],
      {
        env: {
          PATH: process.env.PATH,
          // Nothing listens there: the CLI must ask for the secret before it gets that far.
          REDIS_URL: 'rediss://127.0.0.1:1',
          SEQGUARD_REDIS_AUTH_SECRET_ARN: secretArn,
          SEQGUARD_TOPICS: 'events',
          SEQGUARD_CONSUMER_GROUP: 'seqguard-apply-events',
          KAFKA_BROKERS: '127.0.0.1:1',
          AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}`,
          AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
          AWS_REGION: 'eu-west-1',
        },
        stdio: 'ignore',
      },
    );
    const exited = new Promise<void>((resolve) => cli.once('exit', () => resolve()));
    try {
      await Promise.race([getSecretValue, exited]);
    } finally {
      cli.kill();
      await exited;
      await new Promise((resolve) => secretsManager.close(resolve));
    }
    // Assess
    expect(calls).toEqual([
      { target: 'secretsmanager.GetSecretValue', body: JSON.stringify({ SecretId: secretArn }) },
    ]);
  }, 30_000);
});
