import { describe, expect, it } from 'vitest';
import {
  clusterNodeTimeoutMs,
  countByKind,
  faultSchedule,
  fullCounts,
  killPoints,
  kindsOf,
  losesAcknowledgedWrites,
  quickCounts,
  redisFaults,
  serialKinds,
  sinkCommandTimeoutMs,
  type Topology,
} from '../../../local/soak/schedule.ts';

const topologies: Topology[] = ['single', 'cluster'];

describe('faultSchedule()', () => {
  it('draws the same schedule from the same seed, and another from another seed', () => {
    // Prepare
    const options = {
      events: 1_000_000,
      topology: 'single' as const,
      counts: fullCounts('single'),
    };
    // Act
    const first = faultSchedule({ ...options, seed: 42 });
    const again = faultSchedule({ ...options, seed: 42 });
    const other = faultSchedule({ ...options, seed: 43 });
    // Assess
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it.each(topologies)(
    'covers every fault kind of %s in quick mode, and a sink kill at every point',
    (topology) => {
      const schedule = faultSchedule({
        seed: 7,
        events: 60_000,
        topology,
        counts: quickCounts(topology),
        quick: true,
      });
      const counts = countByKind(schedule);
      for (const kind of kindsOf(topology)) expect(counts[kind], kind).toBeGreaterThanOrEqual(1);
      expect(new Set(schedule.filter((f) => f.kind === 'sinkKill').map((f) => f.point))).toEqual(
        new Set(killPoints(topology)),
      );
    },
  );

  it('gives the cluster failover and slot migration, and the single server the proxy faults', () => {
    expect(kindsOf('cluster')).toEqual(
      expect.arrayContaining(['clusterFailover', 'slotMigration', 'maxmemory']),
    );
    expect(kindsOf('cluster')).not.toContain('networkLatency');
    expect(kindsOf('single')).toEqual(expect.arrayContaining(['networkLatency', 'connectionDrop']));
    expect(kindsOf('single')).not.toContain('slotMigration');
  });

  it.each(topologies)('schedules at least what issue 13 asks of a full run on %s', (topology) => {
    const counts = countByKind(
      faultSchedule({ seed: 1, events: 1_000_000, topology, counts: fullCounts(topology) }),
    );
    const redis = Object.entries(counts).filter(([k]) => redisFaults.has(k as never));
    const losing = redis.filter(([k]) => losesAcknowledgedWrites.has(k as never));
    expect(counts.sinkKill).toBeGreaterThanOrEqual(50);
    expect(redis.reduce((sum, [, c]) => sum + c, 0)).toBeGreaterThanOrEqual(5);
    expect(losing.reduce((sum, [, c]) => sum + c, 0)).toBeGreaterThanOrEqual(2);
    expect(counts.brokerRestart).toBeGreaterThanOrEqual(3);
    if (topology === 'cluster') {
      expect(counts.clusterFailover).toBeGreaterThanOrEqual(1);
      expect(counts.slotMigration).toBeGreaterThanOrEqual(1);
    }
  });

  it.each(
    topologies.flatMap((topology) => [
      { topology, quick: false, events: 200_000 },
      { topology, quick: true, events: 60_000 },
    ]),
  )(
    'keeps faults between 5 % and 85 % of the events, snapshots before their rollback, serial faults in order ($topology, quick: $quick)',
    ({ topology, quick, events }) => {
      const schedule = faultSchedule({
        seed: 99,
        events,
        topology,
        counts: quick ? quickCounts(topology) : fullCounts(topology),
        quick,
      });
      for (const f of schedule) {
        expect(f.at).toBeGreaterThanOrEqual(events * 0.05);
        expect(f.at).toBeLessThanOrEqual(events * 0.85);
      }
      const serial = schedule.filter((f) => serialKinds.has(f.kind));
      for (let i = 1; i < serial.length; i++)
        expect((serial[i] as { at: number }).at).toBeGreaterThan(
          (serial[i - 1] as { at: number }).at,
        );
      for (const rollback of schedule.filter((f) => f.kind === 'redisRollback')) {
        expect(rollback.snapshotAt).toBeLessThan(rollback.at);
        // No other serial fault between the snapshot and the rollback.
        expect(
          serial.filter(
            (f) => f !== rollback && f.at > (rollback.snapshotAt as number) && f.at < rollback.at,
          ),
        ).toEqual([]);
      }
      // A freeze fails the sink's commands, but must not fail a cluster's node over.
      for (const freeze of schedule.filter((f) => f.kind === 'redisFreeze')) {
        expect(freeze.durationMs).toBeGreaterThan(sinkCommandTimeoutMs);
        expect(freeze.durationMs).toBeLessThan(clusterNodeTimeoutMs);
      }
    },
  );
});
