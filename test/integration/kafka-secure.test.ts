/**
 * The local broker started with `security: 'msk-iam'` authenticates like Amazon MSK's IAM
 * listener: TLS only, then SASL/OAUTHBEARER with a SigV4-presigned `kafka-cluster:Connect` URL
 * (https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html). Every kind
 * of client the project builds connects through core/kafka/connection.ts with the
 * token aws-msk-iam-sasl-signer-js signs from the standard AWS variables, and each way of
 * getting it wrong is refused, quickly, with the reason the broker's validator gives.
 *
 * The suites' shared broker (global setup) is this broker unless they run plaintext.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '@platformatic/kafka';
import { generateAuthTokenFromCredentialsProvider } from 'aws-msk-iam-sasl-signer-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createKafkaProducer,
  type KafkaConnection,
  kafkaClientOptions,
  withAdmin,
} from '../../core/kafka/connection.ts';
import { lazyKafkaConnection } from '../../core/kafka/location.ts';
import { committedOffsets, partitionRanges } from '../../core/kafka/offsets.ts';
import { readRecords } from '../../core/kafka/read-records.ts';
import {
  type KafkaBroker,
  type SecureKafkaListener,
  startKafkaBroker,
} from '../../local/emulators/kafka/broker.ts';
import { createTopic, plaintextKafka, produce, useSecureKafka } from '../helpers/kafka.ts';

/** A refusal must come back this fast: no client may retry a refused login until it times out. */
const REFUSED_WITHIN_MS = 10_000;

// The suite's broker when it runs secure; a broker of this file's own under SEQGUARD_PLAINTEXT=1.
const secureKafka = useSecureKafka();
let listener: SecureKafkaListener;
const topic = `secure-${randomUUID().slice(0, 8)}`;
const seeded = ['s0', 's1', 's2'];

beforeAll(async () => {
  ({ listener } = secureKafka());
  const plaintext = plaintextKafka(secureKafka().plaintextBootstrap);
  await createTopic(topic, 2, plaintext);
  // The signer reads the standard variables (its default provider chain), as in a Lambda.
  vi.stubEnv('AWS_ACCESS_KEY_ID', listener.credentials.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', listener.credentials.secretAccessKey);
  vi.stubEnv('AWS_REGION', listener.credentials.region);
  vi.stubEnv('AWS_SESSION_TOKEN', undefined);
  vi.stubEnv('AWS_PROFILE', undefined);
  // Seeded over the broker's own plaintext listener, so the reading tests do not need the producer's.
  await produce(
    topic,
    seeded.map((value) => ({ partition: 0, value })),
    plaintext,
  );
}, 180_000);

afterAll(async () => {
  vi.unstubAllEnvs();
});

function secure(clientId: string): KafkaConnection {
  return {
    bootstrapBrokers: [listener.bootstrap],
    clientId,
    mskIam: { region: listener.credentials.region },
    tlsCaPem: listener.caPem,
  };
}

/** Every message and server message in an error's tree (AggregateErrors and causes). */
function errorTree(error: unknown): { codes: string[]; messages: string[] } {
  const codes: string[] = [];
  const messages: string[] = [];
  const visit = (e: unknown, depth: number) => {
    if (!(e instanceof Error) || depth > 8) return;
    const fields = e as Error & { code?: string; serverErrorMessage?: string; errors?: unknown[] };
    if (fields.code) codes.push(fields.code);
    messages.push(e.message);
    if (fields.serverErrorMessage) messages.push(fields.serverErrorMessage);
    for (const inner of fields.errors ?? []) visit(inner, depth + 1);
    visit(e.cause, depth + 1);
  };
  visit(error, 0);
  return { codes, messages };
}

/** Asks for metadata with a client that does not retry; resolves with how it failed and when. */
async function refusal(options: ConstructorParameters<typeof Admin>[0]) {
  const admin = new Admin({ ...options, retries: 0 });
  const started = Date.now();
  try {
    const failure = await admin.metadata({ topics: [topic] }).then(
      () => undefined,
      (error: unknown) => error,
    );
    return { failure, ms: Date.now() - started, ...errorTree(failure) };
  } finally {
    await admin.close();
  }
}

/** The same client as `secure()` builds, but sending the given token. */
function withToken(token: string) {
  return {
    ...kafkaClientOptions(secure('seqguard-test-crafted')),
    sasl: { mechanism: 'OAUTHBEARER' as const, token },
  };
}

async function signToken(
  credentials: { accessKeyId: string; secretAccessKey: string },
  region = listener.credentials.region,
) {
  const { token } = await generateAuthTokenFromCredentialsProvider({
    region,
    awsCredentialsProvider: async () => credentials,
  });
  return token;
}

const PLATFORMATIC_AUTHENTICATION_ERROR = 'PLT_KFK_AUTHENTICATION';

function expectAuthenticationRefusal(result: Awaited<ReturnType<typeof refusal>>, reason: RegExp) {
  expect(result.failure).toBeInstanceOf(Error);
  expect(result.codes).toContain(PLATFORMATIC_AUTHENTICATION_ERROR);
  expect(result.messages.some((m) => reason.test(m))).toBe(true);
  expect(result.ms).toBeLessThan(REFUSED_WITHIN_MS);
}

describe('the secure local broker (security: msk-iam)', () => {
  it('hands out a localhost bootstrap, its CA and the local credentials', () => {
    // Assess
    expect(listener.bootstrap).toMatch(/^localhost:\d+$/);
    expect(listener.caPem).toContain('-----BEGIN CERTIFICATE-----');
    expect(listener.credentials).toEqual({
      accessKeyId: 'AKIALOCALSEQGUARD',
      secretAccessKey: expect.any(String),
      region: 'us-east-1',
    });
  });

  describe('accepts, through the connection module with MSK IAM', () => {
    it('a producer (idempotent, acks=all)', async () => {
      // Prepare
      const producer = createKafkaProducer(secure('seqguard-test-producer'), {
        idempotent: true,
        acks: -1,
      });
      try {
        // Act
        const sent = await producer.send({
          messages: [
            { topic, partition: 1, value: Buffer.from('p0') },
            { topic, partition: 1, value: Buffer.from('p1') },
          ],
        });
        // Assess
        expect(sent.offsets).toEqual([{ topic, partition: 1, offset: 0n }]);
      } finally {
        await producer.close();
      }
    });

    it("an admin listing offsets (check-drift's partitionRanges)", async () => {
      // Act
      const ranges = await withAdmin(secure('seqguard-test-admin'), (admin) =>
        partitionRanges(admin, [topic]),
      );
      // Assess
      expect(ranges.find((r) => r.partition === 0)).toMatchObject({ earliest: 0n, end: 3n });
    });

    it('a consumer reading a range of records (readRecords, for replay and verify)', async () => {
      // Act
      const records = await readRecords(secure('seqguard-test-reader'), [
        { topic, partition: 0, from: 0n, to: 3n },
      ]);
      // Assess
      expect(records.map((r) => r.value?.toString())).toEqual(seeded);
    });

    it("an admin committing and reading a group's offsets (check-drift's committedOffsets)", async () => {
      // Prepare
      const groupId = `secure-group-${randomUUID().slice(0, 8)}`;
      await withAdmin(secure('seqguard-test-admin'), (admin) =>
        admin.alterConsumerGroupOffsets({
          groupId,
          topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 2n }] }],
        }),
      );
      // Act
      const committed = await withAdmin(secure('seqguard-check-drift'), (admin) =>
        committedOffsets(admin, groupId, [topic]),
      );
      // Assess
      expect(committed.get(`${topic}-0`)).toBe(2n);
    });

    it('a lazy connection from a KafkaLocation that names the CA file (SEQGUARD_KAFKA_CA_FILE)', async () => {
      // Prepare
      const connection = lazyKafkaConnection(
        {
          bootstrapBrokers: [listener.bootstrap],
          mskClusterArn: undefined,
          mskIamRegion: listener.credentials.region,
          tlsCaFile: listener.caFile,
        },
        'seqguard-test-lazy',
      );
      // Act
      const ranges = await withAdmin(await connection(), (admin) =>
        partitionRanges(admin, [topic]),
      );
      // Assess
      expect(ranges).toHaveLength(2);
    });
  });

  describe('refuses', () => {
    it('a plaintext client on the SASL_SSL port', async () => {
      // Act
      const result = await refusal({
        clientId: 'seqguard-test-plaintext',
        bootstrapBrokers: [listener.bootstrap],
      });
      // Assess: the TLS listener answers a Kafka request with a TLS alert, which the client names.
      expect(result.failure).toBeInstanceOf(Error);
      expect(result.messages).toContain('Broker requires TLS.');
      expect(result.ms).toBeLessThan(REFUSED_WITHIN_MS);
    });

    it('a TLS client that skips SASL', async () => {
      // Act: the connection module turns TLS on for a CA alone, without MSK IAM.
      const result = await refusal(
        kafkaClientOptions({
          bootstrapBrokers: [listener.bootstrap],
          clientId: 'seqguard-test-no-sasl',
          tlsCaPem: listener.caPem,
        }),
      );
      // Assess: the TLS handshake passes (no certificate error), then the broker hangs up on a
      // request that is neither ApiVersions nor SASL ("Unexpected Kafka request ... during SASL
      // handshake", SaslServerAuthenticator).
      expect(result.failure).toBeInstanceOf(Error);
      expect(result.messages).toContain('Connection closed');
      expect(result.messages.join('\n')).not.toMatch(/certificate|self[- ]signed/i);
      expect(result.ms).toBeLessThan(REFUSED_WITHIN_MS);
    });

    it('a client that offers SASL/PLAIN instead of a token', async () => {
      // Act
      const result = await refusal({
        ...kafkaClientOptions(secure('seqguard-test-plain')),
        sasl: {
          mechanism: 'PLAIN',
          username: listener.credentials.accessKeyId,
          password: listener.credentials.secretAccessKey,
        },
      });
      // Assess
      expectAuthenticationRefusal(result, /Cannot find a suitable SASL mechanism/);
    });

    it('an expired token (signed 20 minutes ago; the signer gives 15)', async () => {
      // Prepare: only the signing sees the past; the broker checks against the real clock.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() - 20 * 60_000);
      let token: string;
      try {
        token = await signToken(listener.credentials);
      } finally {
        vi.useRealTimers();
      }
      // Act
      const result = await refusal(withToken(token));
      // Assess
      expectAuthenticationRefusal(result, /MSK IAM authentication failed: the token expired at/);
    });

    it('a token whose signature was tampered with (one hex digit flipped)', async () => {
      // Prepare
      const url = new URL(
        Buffer.from(await signToken(listener.credentials), 'base64url').toString(),
      );
      const signature = url.searchParams.get('X-Amz-Signature') as string;
      const flipped = (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1);
      url.searchParams.set('X-Amz-Signature', flipped);
      // Act
      const result = await refusal(withToken(Buffer.from(url.toString()).toString('base64url')));
      // Assess
      expectAuthenticationRefusal(
        result,
        /MSK IAM authentication failed: the token's signature does not match/,
      );
    });

    it('a token for another host (kafka.eu-west-1.amazonaws.com)', async () => {
      // Prepare: a valid signature with the right key, for another region's endpoint.
      const token = await signToken(listener.credentials, 'eu-west-1');
      // Act
      const result = await refusal(withToken(token));
      // Assess
      expectAuthenticationRefusal(
        result,
        /MSK IAM authentication failed: the token is not for kafka\.us-east-1\.amazonaws\.com/,
      );
    });

    it('a token signed with the right access key but the wrong secret', async () => {
      // Prepare
      const token = await signToken({
        accessKeyId: listener.credentials.accessKeyId,
        secretAccessKey: 'not-the-local-secret',
      });
      // Act
      const result = await refusal(withToken(token));
      // Assess
      expectAuthenticationRefusal(
        result,
        /MSK IAM authentication failed: the token's signature does not match/,
      );
    });

    it('a token signed with an unknown access key', async () => {
      // Prepare
      const token = await signToken({
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: listener.credentials.secretAccessKey,
      });
      // Act
      const result = await refusal(withToken(token));
      // Assess
      expectAuthenticationRefusal(
        result,
        /MSK IAM authentication failed: the token is signed by an unknown access key/,
      );
    });

    it('a connection whose AWS variables hold wrong credentials', async () => {
      // Prepare: the connection module's own token provider signs from the environment.
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'not-the-local-secret');
      try {
        // Act
        const result = await refusal(kafkaClientOptions(secure('seqguard-test-wrong-env')));
        // Assess
        expectAuthenticationRefusal(
          result,
          /MSK IAM authentication failed: the token's signature does not match/,
        );
      } finally {
        vi.stubEnv('AWS_SECRET_ACCESS_KEY', listener.credentials.secretAccessKey);
      }
    });
  });
});

describe('a client of the secure broker', () => {
  // A broker of this test's own: it is restarted, which the suite's shared one must not be.
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafkaBroker({ security: 'msk-iam' });
  }, 180_000);
  afterAll(async () => {
    await broker?.stop();
  });

  it('lets its process end once closed, after the broker closed its connection (a restart)', async () => {
    // Prepare: a process with an admin connected over SASL (its re-authentication timer runs).
    const own = broker.mskIam as SecureKafkaListener;
    const connection: KafkaConnection = {
      bootstrapBrokers: [own.bootstrap],
      clientId: 'seqguard-test-exit',
      mskIam: { region: own.credentials.region },
      tlsCaPem: own.caPem,
    };
    const child = fork(new URL('../fixtures/kafka-client-exit.ts', import.meta.url), {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: own.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: own.credentials.secretAccessKey,
        AWS_REGION: own.credentials.region,
        SEQGUARD_TEST_KAFKA: JSON.stringify(connection),
      },
    });
    try {
      const connected = new Promise((resolve) => child.once('message', resolve));
      const exited = new Promise<string>((resolve) => child.once('exit', () => resolve('exited')));
      await connected;
      // Act: the broker goes away and comes back on its ports (the connection is closed by it);
      // then the process closes its admin.
      await broker.restart();
      child.send('close');
      const outcome = await Promise.race([exited, sleep(15_000).then(() => 'still running')]);
      // Assess: before, a closed connection's timer kept the process for 12 minutes.
      expect(outcome).toBe('exited');
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);
});
