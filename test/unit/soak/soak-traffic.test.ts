import type { MSKRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { decodeRecord } from '../../../core/events/decode.ts';
import { mappingSchema } from '../../../core/events/schema.ts';
import { toExactJson } from '../../../core/producer/producer.ts';
import { scenarioMutations } from '../../../local/scenario/capped-counter.ts';
import { seededRandom } from '../../../local/scenario/seeded-random.ts';
import { opCounts, refusedCount } from '../../../local/scenario/traffic-model.ts';
import { SoakModel } from '../../../local/soak/model.ts';
import {
  type EventDraft,
  envelopeOf,
  expectedReasons,
  type MalformedKind,
  malformedKinds,
  malformedValue,
  soakBursts,
  soakStates,
  spinCap,
} from '../../../local/soak/traffic.ts';

/** The soak's sink decodes as its handler is configured (local/soak/handler.ts). */
const decode = {
  format: 'envelope' as const,
  mapping: mappingSchema.parse({}),
  defaultShard: 'game',
  maxValueBytes: 16_384,
  mutations: scenarioMutations,
};

function record(value: Buffer, key = 'player-1'): MSKRecord {
  return {
    topic: 'soak',
    partition: 0,
    offset: 7,
    timestamp: 1_700_000_000_000,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(key).toString('base64'),
    value: value.toString('base64'),
    headers: [],
  };
}

const settings = {
  seed: 5,
  events: 3_000,
  players: 100,
  burstSize: 100,
  duplicateRate: 0.05,
  gapRate: 0.02,
  malformedRate: 0.02,
  maxValueBytes: 16_384,
};

describe('the soak traffic', () => {
  it.each(Object.keys(malformedKinds) as MalformedKind[])(
    'makes %s records that the sink dead-letters for their own reason',
    (kind) => {
      const random = seededRandom(1);
      for (let n = 0; n < 50; n++) {
        // Act
        const decoded = decodeRecord(
          record(malformedValue(kind, 'player-1', n, random, 16_384)),
          decode,
        );
        // Assess
        expect(decoded.kind).toBe('invalid');
        if (decoded.kind === 'invalid')
          expect(decoded.invalid.reason).toMatch(expectedReasons[kind]);
      }
    },
  );

  it('publishes events the sink applies: the envelope with the scope and the stamped seq', () => {
    const draft: EventDraft = {
      kind: 'event',
      scope: 'player-9',
      player: 'player-9',
      type: 'zincrby',
      data: { key: 'leaderboard', member: 'player-9', delta: 4 },
      late: false,
      resend: false,
    };
    const decoded = decodeRecord(
      record(Buffer.from(toExactJson(envelopeOf(draft, 12n))), 'player-9'),
      decode,
    );
    expect(decoded.kind).toBe('event');
    if (decoded.kind === 'event') {
      expect(decoded.event.sequence).toEqual({ scope: 'player-9', seq: '12' });
      expect(decoded.event.shard).toBe('game');
      expect(decoded.event.mutation).toMatchObject({
        op: 'zincrby',
        keys: ['leaderboard'],
        args: ['player-9', expect.any(String)],
      });
    }
  });

  it('carries every kind of mutation the soak registers, each decoded as the model takes it', () => {
    // Prepare
    const drafts = [...soakBursts(settings)]
      .flat()
      .filter((d): d is EventDraft => d.kind === 'event');
    const seen = new Set<string>();
    for (const [n, draft] of drafts.entries()) {
      // Act
      const decoded = decodeRecord(
        record(Buffer.from(toExactJson(envelopeOf(draft, BigInt(n + 1)))), draft.scope),
        decode,
      );
      // Assess
      expect(decoded.kind).toBe('event');
      if (decoded.kind !== 'event') continue;
      expect(decoded.event.mutation).toEqual(scenarioMutations.mutation(draft.type, draft.data));
      const { op, keys } = decoded.event.mutation;
      seen.add(
        op === 'transfer' ? `transfer ${new Set(keys).size === 1 ? 'one key' : 'two keys'}` : op,
      );
    }
    expect(seen).toEqual(
      new Set([
        'zincrby',
        'zmax',
        'sadd',
        'srem',
        'cappedIncr',
        'hincrby',
        'debit',
        'transfer one key',
        'transfer two keys',
      ]),
    );
  });

  it('writes each state entry from one scope only, so that its partition orders it', () => {
    // Prepare: the entries each event touches (state key and field or member).
    const writers = new Map<string, Set<string>>();
    for (const draft of [...soakBursts(settings)].flat()) {
      if (draft.kind !== 'event') continue;
      const { key, toKey, field, member, from, to } = draft.data as Record<string, string>;
      const entries = [
        `${key}/${field ?? member ?? from}`,
        ...(to === undefined ? [] : [`${toKey ?? key}/${to}`]),
      ];
      // Act
      for (const entry of entries) {
        const scopes = writers.get(entry) ?? new Set<string>();
        scopes.add(draft.scope);
        writers.set(entry, scopes);
      }
    }
    // Assess
    expect(writers.size).toBeGreaterThan(100);
    const shared = [...writers].filter(([, scopes]) => scopes.size > 1);
    expect(shared).toEqual([]);
    expect(new Set([...writers.keys()].map((entry) => entry.split('/')[0]))).toEqual(
      new Set(Object.values(soakStates)),
    );
  });

  it('draws the same bursts from the same seed, with every malformed kind in a short run', () => {
    const first = [...soakBursts(settings)];
    const again = [...soakBursts(settings)];
    expect(again).toEqual(first);
    const events = first.flat().filter((d) => d.kind === 'event');
    expect(events).toHaveLength(settings.events);
    const kinds = new Set(
      first.flat().flatMap((d) => (d.kind === 'malformed' ? [d.malformed] : [])),
    );
    expect(kinds).toEqual(new Set(Object.keys(malformedKinds)));
  });
});

/** A draft of `type` in `scope` (about player a), sent once, on time unless said. */
function draft(
  scope: string,
  type: string,
  data: EventDraft['data'],
  delivery: Partial<Pick<EventDraft, 'late' | 'resend'>> = {},
): EventDraft {
  return { kind: 'event', scope, player: 'a', type, data, late: false, resend: false, ...delivery };
}

describe('SoakModel', () => {
  it('counts each unique event once and merges the seqs a killed producer never sent', () => {
    // Prepare
    const model = new SoakModel();
    const drafts: EventDraft[] = [
      draft('a', 'zincrby', { key: 'leaderboard', member: 'a', delta: 2 }, { resend: true }),
      draft('a', 'zincrby', { key: 'leaderboard', member: 'a', delta: 3 }, { late: true }),
    ];
    // Act
    model.add(drafts, {
      burst: 0,
      seqs: [4n, 5n],
      skipped: [
        ['a', 1n, 2n],
        ['a', 3n, 3n],
      ],
    });
    // Assess
    expect(model.scoreOf('a')).toBe(5);
    expect(model.cursorOf('a')).toBe(5n);
    expect(model.model.unique).toBe(2);
    expect(model.model.records).toBe(3);
    expect(model.expectedGaps.get('a')).toEqual([[1n, 3n]]);
    expect(model.skippedSeqs).toBe(3n);
  });
});

describe('SoakModel with refusals', () => {
  it('takes a burst in the order the producer sends it: a late credit comes after the debit', () => {
    // Prepare: a team's ledger; the credit of 10 is held back to the end of its burst.
    const model = new SoakModel();
    const wallet = soakStates.wallet;
    const drafts: EventDraft[] = [
      draft('team-0', 'hincrby', { key: wallet, field: 'a', delta: 5 }),
      draft('team-0', 'hincrby', { key: wallet, field: 'a', delta: 10 }, { late: true }),
      draft('team-0', 'debit', { key: wallet, field: 'a', amount: 8 }, { resend: true }),
      draft('team-0', 'transfer', {
        key: wallet,
        from: 'a',
        toKey: soakStates.vault,
        to: 'team-0',
        amount: 4,
      }),
    ];
    // Act
    model.add(drafts, { burst: 0, seqs: [1n, 2n, 3n, 4n], skipped: [] });
    // Assess: 5, then -8 refused (once, though sent twice), then -4 to the vault, then +10.
    const m = model.model;
    expect(refusedCount(m, 'debit', 'insufficient')).toBe(1);
    expect(opCounts(m, 'transfer').applied).toBe(1);
    expect(m.unique).toBe(4);
    expect(m.records).toBe(5);
    expect(m.shard.state.get(wallet)).toEqual({ type: 'hash', fields: new Map([['a', 11n]]) });
    expect(m.shard.state.get(soakStates.vault)).toEqual({
      type: 'hash',
      fields: new Map([['team-0', 4n]]),
    });
  });

  it('refuses the capped counter past its cap, with the soak’s mutations registered', () => {
    const model = new SoakModel();
    const spin = (delta: number) =>
      draft('a', 'cappedIncr', { key: soakStates.spins, field: 'a', delta, cap: spinCap });
    model.add([spin(3), spin(2), spin(1)], { burst: 0, seqs: [1n, 2n, 3n], skipped: [] });
    expect(refusedCount(model.model, 'cappedIncr', 'capped')).toBe(1);
    expect(model.model.shard.state.get(soakStates.spins)).toEqual({
      type: 'hash',
      fields: new Map([['a', 4n]]),
    });
  });

  it('has refusals of every kind in a short run of the soak’s traffic', () => {
    // Prepare: seqs as the producer stamps them, per scope from 1.
    const model = new SoakModel();
    const next = new Map<string, bigint>();
    // Act
    for (const [burst, drafts] of [...soakBursts({ ...settings, events: 6_000 })].entries()) {
      const seqs = drafts.flatMap((d) => {
        if (d.kind !== 'event') return [];
        const seq = (next.get(d.scope) ?? 0n) + 1n;
        next.set(d.scope, seq);
        return [seq];
      });
      model.add(drafts, { burst, seqs, skipped: [] });
    }
    // Assess
    const m = model.model;
    expect(m.unique).toBe(6_000);
    expect(refusedCount(m, 'debit', 'insufficient')).toBeGreaterThan(0);
    expect(refusedCount(m, 'transfer', 'insufficient')).toBeGreaterThan(0);
    expect(refusedCount(m, 'cappedIncr', 'capped')).toBeGreaterThan(0);
    expect(opCounts(m, 'debit').applied).toBeGreaterThan(0);
    expect(opCounts(m, 'transfer').applied).toBeGreaterThan(0);
    expect(m.shard.applied + refusedCount(m)).toBe(m.unique);
  });
});
