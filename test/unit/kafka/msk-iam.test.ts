import { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MskIamTokenError } from '../../../core/errors.ts';
import { createMskIamTokenProvider } from '../../../core/kafka/msk-iam.ts';

/** The presigned URL a token carries: MSK IAM tokens are base64url-encoded URLs. */
function presignedUrl(token: string): URL {
  return new URL(Buffer.from(token, 'base64url').toString('utf8'));
}

describe('createMskIamTokenProvider()', () => {
  beforeEach(() => {
    // Fake static credentials: the first link of the default provider chain reads them.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAIOSFODNN7EXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    vi.stubEnv('AWS_SESSION_TOKEN', undefined);
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    // Only Date is faked: the signer dates its signature from it, and nothing else waits on it.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-27T10:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('signs a kafka-cluster:Connect URL for the region, offline', async () => {
    // Prepare
    const connect = vi.spyOn(Socket.prototype, 'connect');
    const token = createMskIamTokenProvider({ region: 'eu-west-1' });
    // Act
    const url = presignedUrl(await token());
    // Assess
    expect(url.host).toBe('kafka.eu-west-1.amazonaws.com');
    expect(url.search).toContain('Action=kafka-cluster%3AConnect');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^AKIAIOSFODNN7EXAMPLE\/20261127\/eu-west-1\/kafka-cluster\/aws4_request$/,
    );
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(connect).not.toHaveBeenCalled();
  });

  it('reuses the cached token until shortly before it expires', async () => {
    // Prepare
    const token = createMskIamTokenProvider({ region: 'eu-west-1', refreshMarginMs: 60_000 });
    const first = await token();
    // Act
    vi.setSystemTime(new Date('2026-11-27T10:05:00Z'));
    const fiveMinutesLater = await token();
    vi.setSystemTime(new Date('2026-11-27T10:14:30Z'));
    const nearExpiry = await token();
    // Assess: a new signing would carry the new time; the signer's tokens last 15 minutes.
    expect(fiveMinutesLater).toBe(first);
    expect(nearExpiry).not.toBe(first);
    expect(presignedUrl(nearExpiry).searchParams.get('X-Amz-Date')).toBe('20261127T101430Z');
  });

  it('signs once for calls that arrive together', async () => {
    // Prepare
    const token = createMskIamTokenProvider({ region: 'eu-west-1' });
    // Act
    const tokens = await Promise.all([token(), token(), token()]);
    // Assess
    expect(new Set(tokens).size).toBe(1);
  });

  it('fails with MskIamTokenError, and its cause, when no region is given', async () => {
    // Prepare
    const token = createMskIamTokenProvider({ region: '' });
    // Act
    const failure = await token().catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(MskIamTokenError);
    expect((failure as Error).cause).toBeInstanceOf(Error);
  });
});
