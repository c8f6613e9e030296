import { describe, expect, it } from 'vitest';
import { loadSinkConfig } from '../../../core/config/config.ts';
import { ConfigError } from '../../../core/errors.ts';

describe('loadSinkConfig()', () => {
  it('reads a Kafka location with MSK IAM and a CA file, for the local secure broker', () => {
    // Act
    const config = loadSinkConfig({
      REDIS_URL: 'redis://127.0.0.1:6379',
      SEQGUARD_KAFKA_BOOTSTRAP: 'localhost:9098',
      SEQGUARD_KAFKA_MSK_IAM: 'true',
      SEQGUARD_KAFKA_CA_FILE: '.cache/kafka-tls/ca.pem',
      AWS_REGION: 'us-east-1',
    });
    // Assess
    expect(config.kafka).toEqual({
      bootstrapBrokers: ['localhost:9098'],
      mskClusterArn: undefined,
      mskIamRegion: 'us-east-1',
      tlsCaFile: '.cache/kafka-tls/ca.pem',
    });
  });

  it('turns MSK IAM on for a cluster ARN, in its region, unless told not to', () => {
    // Prepare
    const env = {
      REDIS_URL: 'redis://127.0.0.1:6379',
      SEQGUARD_MSK_CLUSTER_ARN: 'arn:aws:kafka:eu-west-1:123456789012:cluster/c/uuid',
    };
    // Act
    const byDefault = loadSinkConfig(env).kafka;
    const off = loadSinkConfig({ ...env, SEQGUARD_KAFKA_MSK_IAM: 'false' }).kafka;
    // Assess
    expect(byDefault?.mskIamRegion).toBe('eu-west-1');
    expect(off?.mskIamRegion).toBeUndefined();
  });

  it('refuses SEQGUARD_KAFKA_MSK_IAM=true without a region to sign for', () => {
    // Act
    const load = () =>
      loadSinkConfig({
        REDIS_URL: 'redis://127.0.0.1:6379',
        SEQGUARD_KAFKA_BOOTSTRAP: 'localhost:9098',
        SEQGUARD_KAFKA_MSK_IAM: 'true',
      });
    // Assess
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/SEQGUARD_KAFKA_MSK_IAM: MSK IAM needs AWS_REGION/);
  });

  it('needs only REDIS_URL and fills in documented defaults', () => {
    const config = loadSinkConfig({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(config).toEqual({
      redis: { url: 'redis://127.0.0.1:6379', cluster: false, commandTimeoutMs: 2000 },
      decode: {
        format: 'envelope',
        mapping: {
          seq: 'sequence_id',
          scope: '$key',
          op: 'zincrby',
          key: 'leaderboard',
          target: 'player_id',
          value: 'delta',
        },
        defaultShard: 'default',
        maxValueBytes: 65_536,
      },
      guard: {
        firstSeq: '1',
        streamMaxLen: 1_000_000,
        streamMaxAgeMs: 604_800_000,
        keyPrefix: 'sg',
        replicaWait: { replicas: 0, timeoutMs: 500 },
      },
      chunkSize: 500,
      shardConcurrency: 8,
      metricsNamespace: 'seqguard',
    });
  });

  // CloudWatch user guide, "Namespaces"
  // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Namespace):
  // up to 255 of A-Z a-z 0-9 . - _ / # : and space; `AWS/` is AWS's (PutMetricData,
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
  it('reads the metrics namespace, refusing one CloudWatch would not take', () => {
    const base = { REDIS_URL: 'redis://127.0.0.1:6379' };
    for (const namespace of ['shop', 'Team/shop-2', 'a.b_c#d:e f', 'x'.repeat(255)]) {
      expect(
        loadSinkConfig({ ...base, SEQGUARD_METRICS_NAMESPACE: namespace }).metricsNamespace,
      ).toBe(namespace);
    }
    for (const namespace of ['', '   ', 'AWS/Lambda', 'shop*', 'x'.repeat(256), 'caf\u00e9']) {
      expect(() => loadSinkConfig({ ...base, SEQGUARD_METRICS_NAMESPACE: namespace })).toThrow(
        /SEQGUARD_METRICS_NAMESPACE: a CloudWatch namespace/,
      );
    }
  });

  it('reads every variable', () => {
    const config = loadSinkConfig({
      REDIS_URL: 'rediss://user:pw@cache.example:6380',
      SEQGUARD_REDIS_CLUSTER: 'true',
      SEQGUARD_FORMAT: 'mapped',
      SEQGUARD_MAPPING:
        '{"seq":"n","scope":"account","op":"hincrby","key":"balances","target":"account","value":"cents"}',
      SEQGUARD_FIRST_SEQ: '0',
      SEQGUARD_CHUNK_SIZE: '200',
      SEQGUARD_STREAM_MAX_AGE_SECONDS: '0',
    });
    expect(config.redis.cluster).toBe(true);
    expect(config.decode.mapping).toMatchObject({ seq: 'n', op: 'hincrby', key: 'balances' });
    expect(config.guard).toMatchObject({ firstSeq: '0', streamMaxAgeMs: 0 });
    expect(config.chunkSize).toBe(200);
  });

  it('reads the replica wait, which must end before the command timeout', () => {
    // Prepare
    const base = { REDIS_URL: 'redis://127.0.0.1:6379', SEQGUARD_REDIS_WAIT_REPLICAS: '1' };
    // Act
    const config = loadSinkConfig({ ...base, SEQGUARD_REDIS_WAIT_TIMEOUT_MS: '300' });
    // Assess
    expect(config.guard.replicaWait).toEqual({ replicas: 1, timeoutMs: 300 });
    expect(() =>
      loadSinkConfig({
        ...base,
        SEQGUARD_REDIS_WAIT_TIMEOUT_MS: '2000',
        SEQGUARD_REDIS_TIMEOUT_MS: '2000',
      }),
    ).toThrow(/SEQGUARD_REDIS_WAIT_TIMEOUT_MS: must be below SEQGUARD_REDIS_TIMEOUT_MS/);
    expect(() => loadSinkConfig({ ...base, SEQGUARD_REDIS_WAIT_REPLICAS: '-1' })).toThrow(
      /SEQGUARD_REDIS_WAIT_REPLICAS/,
    );
  });

  it('reads the CA file for the Redis TLS connection, which needs a rediss:// URL', () => {
    // Prepare
    const caFile = '.cache/tls/local-ca-v1/ca.crt';
    // Act
    const config = loadSinkConfig({
      REDIS_URL: 'rediss://127.0.0.1:6380',
      SEQGUARD_REDIS_CA_FILE: caFile,
    });
    // Assess
    expect(config.redis.tlsCaFile).toBe(caFile);
    expect(() =>
      loadSinkConfig({ REDIS_URL: 'redis://127.0.0.1:6379', SEQGUARD_REDIS_CA_FILE: caFile }),
    ).toThrow(/SEQGUARD_REDIS_CA_FILE: needs a rediss:\/\/ \(TLS\) REDIS_URL/);
  });

  it('reports every problem at once, by variable name', () => {
    const attempt = () =>
      loadSinkConfig({
        REDIS_URL: 'http://nope',
        SEQGUARD_FORMAT: 'xml',
        SEQGUARD_CHUNK_SIZE: '5000',
        SEQGUARD_FIRST_SEQ: '-1',
        SEQGUARD_MAPPING: '{"op":"hsetIfNewer"}',
      });
    expect(attempt).toThrow(ConfigError);
    const message = (() => {
      try {
        attempt();
      } catch (error) {
        return (error as Error).message;
      }
    })();
    for (const name of [
      'REDIS_URL',
      'SEQGUARD_FORMAT',
      'SEQGUARD_CHUNK_SIZE',
      'SEQGUARD_FIRST_SEQ',
      'SEQGUARD_MAPPING (version)',
    ]) {
      expect(message).toContain(name);
    }
    expect(() => loadSinkConfig({})).toThrow(/REDIS_URL/);
    expect(() => loadSinkConfig({ REDIS_URL: 'redis://h', SEQGUARD_MAPPING: '{oops' })).toThrow(
      /SEQGUARD_MAPPING: not JSON/,
    );
  });
});
