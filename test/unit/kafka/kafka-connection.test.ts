/**
 * Every Kafka client of check-drift, replay and verify is built by core/kafka/
 * connection.ts, so a connection with MSK IAM options opens TLS (with SNI) to the broker, never
 * plaintext. MSK's IAM listener (port 9098) accepts TLS only: "Amazon MSK IAM access control
 * requires TLS encryption between clients and brokers" (Amazon MSK Developer Guide, "IAM access
 * control", https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html).
 *
 * The cores are not given a broker here, so the test listens with a plain TCP server and reads
 * the first bytes each client sends: a TLS handshake record (0x16) naming the broker's host in
 * its server name extension, or a plaintext Kafka request. That the handshake and the MSK IAM
 * token are accepted by a real broker is test/integration/kafka-secure.test.ts's job.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { checkDrift } from '../../../core/drift/check-drift.ts';
import { topicPartition } from '../../../core/events/topic-partition.ts';
import { type KafkaConnection, withAdmin } from '../../../core/kafka/connection.ts';
import { rangesOf, replay } from '../../../core/sink/replay.ts';
import { verifyFromTopic } from '../../../tools/verify/verify.ts';

/**
 * Listens on a fresh port, runs `work` against it and returns the first bytes it sent. The
 * server hangs up at once and closes, so whatever `work` retries afterwards fails fast.
 */
async function firstBytesOf(work: (port: number) => Promise<unknown>): Promise<Buffer> {
  let received: (bytes: Buffer) => void = () => {};
  const first = new Promise<Buffer>((resolve) => {
    received = resolve;
  });
  const server = createServer((socket) => {
    socket.once('data', (chunk) => {
      received(chunk);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  // It fails (nobody answers): only what it sent matters.
  work(port).catch(() => {});
  try {
    return await first;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

const isTlsClientHello = (bytes: Buffer) => bytes[0] === 0x16 && bytes[5] === 0x01;

const iam = (clientId: string, port: number): KafkaConnection => ({
  // `localhost`, not an IP address: TLS sends a server name only for host names.
  bootstrapBrokers: [`localhost:${port}`],
  clientId,
  mskIam: { region: 'eu-west-1' },
});

/** Never reached: each core asks Kafka before it touches Redis or applies anything. */
const unreachedRedis = {} as never;
const unreachedSink = { decode: {}, guard: { keyPrefix: 'sg', firstSeq: '1' } } as never;

describe('the Kafka connection module with MSK IAM options', () => {
  it('is what check-drift connects through: TLS with the broker host as SNI', async () => {
    // Act
    const bytes = await firstBytesOf((port) =>
      checkDrift(
        {
          kafka: iam('seqguard-check-drift', port),
          redis: unreachedRedis,
          ports: unreachedRedis,
          sink: unreachedSink,
        },
        {
          topics: ['events'],
          consumerGroup: 'seqguard-apply-events',
          autoReplay: false,
          replayLimit: 1,
          maxStateEntries: 1,
        },
      ),
    );
    // Assess
    expect(isTlsClientHello(bytes)).toBe(true);
    expect(bytes.includes(Buffer.from('localhost'))).toBe(true);
  });

  it('is what replay connects through, for its offsets and for reading records', async () => {
    // Act
    const offsets = await firstBytesOf((port) =>
      rangesOf(iam('seqguard-replay', port), { kind: 'since', topic: 'events', timestampMs: 0 }),
    );
    const records = await firstBytesOf((port) =>
      replay(
        iam('seqguard-replay', port),
        unreachedRedis,
        unreachedSink,
        [{ topic: 'events', partition: 0, from: 0n, to: 10n }],
        10,
      ),
    );
    // Assess
    expect(isTlsClientHello(offsets)).toBe(true);
    expect(isTlsClientHello(records)).toBe(true);
  });

  it('is what verify connects through', async () => {
    // Act
    const bytes = await firstBytesOf((port) =>
      verifyFromTopic({
        connection: iam('seqguard-verify', port),
        redis: unreachedRedis,
        topics: ['events'],
        sink: unreachedSink,
      }),
    );
    // Assess
    expect(isTlsClientHello(bytes)).toBe(true);
  });

  it('opens plaintext Kafka without them (the control: the server tells the two apart)', async () => {
    // Act
    const bytes = await firstBytesOf((port) =>
      withAdmin({ bootstrapBrokers: [`localhost:${port}`], clientId: 'plain' }, (admin) =>
        admin.metadata({ topics: ['events'] }),
      ),
    );
    // Assess: a Kafka request starts with its 4-byte size, then ApiVersions (key 18).
    expect(isTlsClientHello(bytes)).toBe(false);
    expect(bytes.readInt16BE(4)).toBe(18);
  });
});

describe('topicPartition()', () => {
  it('names a partition as the Lambda MSK event keys its record lists', () => {
    expect(topicPartition({ topic: 'orders', partition: 3 })).toBe('orders-3');
  });
});
