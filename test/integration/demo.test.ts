/**
 * `npm run demo` itself, small, against the suite's broker and Redis: it must end with no loss,
 * no duplicate, a crash survived, and exit code 0.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);

describe('npm run demo', () => {
  it('reports every event applied exactly once across a crash', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        'local/demo.ts',
        '--events',
        '1500',
        '--rate',
        '3000',
        '--players',
        '50',
        '--malformed-rate',
        '0.01',
      ],
      {
        env: {
          ...process.env,
          KAFKA_BROKERS: inject('kafkaBootstrap'),
          REDIS_URL: inject('redisUrl'),
        },
        timeout: 120_000,
      },
    );
    expect(stdout).toMatch(/^\s+LOST\s+0$/m);
    expect(stdout).toMatch(/^\s+DUPLICATED\s+0$/m);
    expect(stdout).toMatch(/^\s+handler crashes \(SIGKILL mid-batch\)\s+1$/m);
    expect(stdout).toContain('OK: every event applied exactly once.');
  }, 150_000);
});
