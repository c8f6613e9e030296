/**
 * The drift check on real parts: each condition is provoked for real (sink stopped, writes
 * around the pipeline, Redis losing acknowledged writes, a skipped seq, a poison record) and the
 * local monitor must move the alarm OK -> ALARM (and back after the repair). Detection times are
 * printed; they are measured with a 250 ms check interval.
 */
import { describe, expect, it } from 'vitest';
import { loadSinkConfig } from '../../core/config/config.ts';
import { stateKey } from '../../core/layout/keys.ts';
import { verifyFromTopic } from '../../tools/verify/verify.ts';
import { alarmIn, detection, events, seed, useDriftBench, waitFor } from '../helpers/drift.ts';
import { suiteKafka } from '../helpers/kafka.ts';

const { server, setUp } = useDriftBench();

describe('check-drift with the local monitor', () => {
  it('raises consumer lag, applied lag and time lag when the sink stops, and clears them when it is back', async () => {
    // Prepare
    const s = await setUp('stopped');
    await s.produce(events(10, 5));
    const first = s.pipeline();
    await s.caughtUp();
    s.monitor.start();
    await waitFor(() => s.monitor.lastReport !== undefined, 'a first report');
    expect(Object.values(s.monitor.states).every((state) => state === 'OK')).toBe(true);
    // Act: the sink stops, events keep coming.
    await first.stop();
    const stoppedAt = Date.now();
    await s.produce(events(10, 12, 6));
    // Assess
    const lag = await alarmIn(s.monitor, 'consumerLagRecords', 'ALARM');
    detection('consumer lag (sink stopped)', Date.now() - stoppedAt);
    expect(s.monitor.lastReport?.values.consumerLagRecords).toBe(120);
    expect(s.monitor.states.appliedLagRecords).toBe('ALARM');
    const timeLag = await alarmIn(s.monitor, 'timeLagSeconds', 'ALARM');
    detection('time lag > 2 s (sink stopped)', Date.now() - stoppedAt);
    expect(lag).toBeLessThan(5_000);
    expect(timeLag).toBeLessThan(10_000);

    s.pipeline();
    await s.caughtUp();
    await alarmIn(s.monitor, 'consumerLagRecords', 'OK');
    await alarmIn(s.monitor, 'timeLagSeconds', 'OK');
    const lagTransitions = s.monitor.transitions
      .filter((t) => t.alarm === 'consumerLagRecords')
      .map((t) => t.to);
    expect(lagTransitions).toEqual(['ALARM', 'OK']);
  });

  it('raises state drift when something writes around the pipeline', async () => {
    const s = await setUp('around');
    s.pipeline();
    await s.produce(events(5, 4));
    await s.caughtUp();
    s.monitor.start();
    await waitFor(() => s.monitor.lastReport !== undefined, 'a first report');
    expect(s.monitor.states.stateDriftKeys).toBe('OK');

    const wroteAt = Date.now();
    await s.raw.zincrby(stateKey('default', 'leaderboard', s.prefix), 50, 'p1');
    await alarmIn(s.monitor, 'stateDriftKeys', 'ALARM');
    detection('state drift (write around the pipeline)', Date.now() - wroteAt);
    expect(s.monitor.lastReport?.stateChecks).toContainEqual(
      expect.objectContaining({
        shard: 'default',
        name: 'leaderboard',
        kind: 'drift',
        expectedSum: '20',
        actualSum: '70',
      }),
    );

    await s.raw.zincrby(stateKey('default', 'leaderboard', s.prefix), -50, 'p1');
    await alarmIn(s.monitor, 'stateDriftKeys', 'OK');
  });

  it('sees Redis behind the committed offsets after it lost its data, replays the range and recovers the state', async () => {
    const s = await setUp('lost');
    const pipeline = s.pipeline();
    await s.produce(events(8, 10));
    await s.caughtUp();
    const board = async () =>
      s.raw.zrange(stateKey('default', 'leaderboard', s.prefix), '0', '-1', 'WITHSCORES');
    const before = await board();
    expect(before).toHaveLength(16);
    await pipeline.stop();

    // Redis restarts without persistence: every applied write is gone, Kafka's commits stay.
    await server().stop();
    await server().start();
    const lostAt = Date.now();
    expect(await board()).toEqual([]);
    s.monitor.start();
    await alarmIn(s.monitor, 'commitAheadRecords', 'ALARM');
    detection('commit ahead of applied (Redis restarted empty)', Date.now() - lostAt);
    expect(s.monitor.transitions.find((t) => t.alarm === 'commitAheadRecords')?.value).toBe(80);
    expect(s.monitor.lastReport?.replay?.records).toBe(80);

    await alarmIn(s.monitor, 'commitAheadRecords', 'OK');
    detection('repair by automatic replay (commit ahead back to OK)', Date.now() - lostAt);
    expect(await board()).toEqual(before);
    const verified = await verifyFromTopic({
      connection: suiteKafka('drift-test'),
      redis: s.redis,
      topics: [s.topic],
      sink: loadSinkConfig(s.env),
    });
    expect(verified.complete).toBe(true);
    expect(verified.differences).toEqual([]);
  });

  it('counts the gap a skipped seq leaves, until the seq arrives', async () => {
    const s = await setUp('gap');
    s.pipeline();
    s.monitor.start();
    await waitFor(() => s.monitor.lastReport !== undefined, 'a first report');
    const sentAt = Date.now();
    await s.produce([seed('p1', 1), seed('p1', 2), seed('p1', 4)]);
    await alarmIn(s.monitor, 'openGaps', 'ALARM');
    detection('open gap (seq 3 skipped)', Date.now() - sentAt);
    expect(s.monitor.lastReport?.values.openGaps).toBe(1);

    await s.produce([seed('p1', 3)]);
    await alarmIn(s.monitor, 'openGaps', 'OK');
  });

  it('counts dead letters', async () => {
    const s = await setUp('poison');
    s.pipeline();
    s.monitor.start();
    await waitFor(() => s.monitor.lastReport !== undefined, 'a first report');
    const sentAt = Date.now();
    await s.produce([{ partition: 0, key: 'p0', value: 'not json' }]);
    await alarmIn(s.monitor, 'deadLetters', 'ALARM');
    detection('dead letter', Date.now() - sentAt);
    expect(s.monitor.lastReport?.values.deadLetters).toBe(1);
  });
});
