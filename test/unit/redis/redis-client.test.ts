import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.ts';
import { createRedisClient } from '../../../core/redis/client.ts';

// Not a real certificate: these tests look at the options, they never connect.
const caPem = '-----BEGIN CERTIFICATE-----\nnot-checked-here\n-----END CERTIFICATE-----\n';
let dir: string;
let caFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seqguard-client-'));
  caFile = join(dir, 'ca.crt');
  await writeFile(caFile, caPem);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createRedisClient()', () => {
  it('trusts the CA file for rediss:// and leaves certificate verification on', () => {
    // Act
    const client = createRedisClient({
      url: 'rediss://127.0.0.1:1',
      cluster: false,
      commandTimeoutMs: 100,
      tlsCaFile: caFile,
      onError: () => {},
    });
    try {
      // Assess
      const tls = (client as Redis).options.tls as { ca: Buffer; rejectUnauthorized?: boolean };
      expect(tls.ca.toString('utf8')).toBe(caPem);
      expect(tls).not.toHaveProperty('rejectUnauthorized');
    } finally {
      client.disconnect();
    }
  });

  it('gives every cluster node the CA file', () => {
    // Act
    const cluster = createRedisClient({
      url: 'rediss://127.0.0.1:1',
      cluster: true,
      commandTimeoutMs: 100,
      tlsCaFile: caFile,
      onError: () => {},
    });
    try {
      // Assess
      const tls = (cluster as Cluster).options.redisOptions?.tls as { ca: Buffer };
      expect(tls.ca.toString('utf8')).toBe(caPem);
    } finally {
      cluster.disconnect();
    }
  });

  it('names a CA file it cannot read', () => {
    // Act
    const attempt = () =>
      createRedisClient({
        url: 'rediss://127.0.0.1:1',
        cluster: false,
        commandTimeoutMs: 100,
        tlsCaFile: join(dir, 'missing.crt'),
      });
    // Assess
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/SEQGUARD_REDIS_CA_FILE: cannot read .*missing\.crt/);
  });
});
