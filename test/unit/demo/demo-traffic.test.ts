/**
 * The demo's traffic and its model (local/scenario/traffic-model.ts) and the wallet's rows of its
 * report (local/demo/report.ts): the records decode to the events the model took, the model
 * predicts refused debits and applied transfers, and it judges each by its turn in its scope.
 */
import type { MSKRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { type DecodeOptions, decodeRecord } from '../../../core/events/decode.ts';
import { mappingSchema } from '../../../core/events/schema.ts';
import { defaultMutations } from '../../../core/mutations/builtins/index.ts';
import { type OutgoingEvent, toExactJson } from '../../../core/producer/producer.ts';
import { walletFigures } from '../../../local/demo/report.ts';
import type { StreamOutcomes } from '../../../local/scenario/stream-outcomes.ts';
import {
  addEvent,
  bursts,
  emptyModel,
  ledgerScope,
  type Model,
  modelOf,
  opCounts,
  refusedCount,
  type TrafficSettings,
  trafficBursts,
} from '../../../local/scenario/traffic-model.ts';

/** The demo's defaults (local/demo/main.ts). */
const demoDefaults: TrafficSettings = {
  events: 10_000,
  players: 1_000,
  rate: 2_500,
  duplicateRate: 0.02,
  gapRate: 0.01,
  malformedRate: 0.002,
  walletRate: 0.05,
};

/** The demo test's small run (test/integration/demo.test.ts). */
const small: TrafficSettings = { ...demoDefaults, events: 1_500, rate: 3_000, players: 50 };

const decodeOptions = (format: DecodeOptions['format']): DecodeOptions => ({
  format,
  mapping: mappingSchema.parse({}),
  defaultShard: 'game',
  maxValueBytes: 16_384,
});

function mskRecord(event: OutgoingEvent, offset: number): MSKRecord {
  return {
    topic: 't',
    partition: 0,
    offset,
    timestamp: 1_700_000_000_000,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(event.scope).toString('base64'),
    value: Buffer.from(toExactJson(event.value)).toString('base64'),
    headers: [],
  };
}

/**
 * A model fed with what the sink decodes of the published records, one topic after the other:
 * an order across topics the demo never sends in, the same order within each scope.
 */
async function modelOfDecodedRecords(settings: TrafficSettings): Promise<Model> {
  const topics = { leaderboard: [] as OutgoingEvent[], wallet: [] as OutgoingEvent[] };
  for await (const burst of trafficBursts(settings)) {
    topics.leaderboard.push(...burst.leaderboard);
    topics.wallet.push(...burst.wallet);
  }
  const model = emptyModel();
  const formats = [
    [topics.leaderboard, decodeOptions('mapped')],
    [topics.wallet, decodeOptions('envelope')],
  ] as const;
  for (const [records, options] of formats) {
    records.forEach((record, offset) => {
      const decoded = decodeRecord(mskRecord(record, offset), options);
      if (decoded.kind === 'invalid') {
        model.malformed += 1;
        return;
      }
      const { sequence, mutation } = decoded.event;
      addEvent(model, {
        scope: sequence?.scope as string,
        seq: BigInt(sequence?.seq as string),
        mutation,
      });
    });
  }
  return model;
}

describe('the demo traffic model', () => {
  it('predicts refused debits and applied transfers, with the default settings and a small run', async () => {
    for (const settings of [demoDefaults, small]) {
      // Act
      const model = await modelOf(settings);
      // Assess
      expect(model.unique).toBe(settings.events);
      expect(opCounts(model, 'debit').refused.get('insufficient')).toBeGreaterThan(0);
      expect(opCounts(model, 'transfer').applied).toBeGreaterThan(0);
      expect(model.shard.applied + refusedCount(model)).toBe(model.unique);
    }
  });

  it('is what the sink decodes of the records, whatever the order across the two topics', async () => {
    // Prepare
    const expected = await modelOf(small);
    // Act
    const decoded = await modelOfDecodedRecords(small);
    // Assess
    expect(decoded.malformed).toBe(expected.malformed);
    expect(decoded.unique).toBe(expected.unique);
    expect(decoded.byOp).toEqual(expected.byOp);
    expect(decoded.shard.state).toEqual(expected.shard.state);
    expect(decoded.shard.totals).toEqual(expected.shard.totals);
    expect(decoded.shard.cursors).toEqual(expected.shard.cursors);
  });

  it('sends every wallet event in the ledger’s one scope, in the envelope format', async () => {
    let wallet = 0;
    let records = 0;
    const model = emptyModel();
    for await (const burst of trafficBursts(small, model)) {
      records += burst.leaderboard.length + burst.wallet.length;
      for (const event of burst.wallet) {
        wallet += 1;
        expect(event.scope).toBe(ledgerScope);
        expect(event.value).toMatchObject({ scope: ledgerScope, type: expect.any(String) });
      }
    }
    expect(wallet).toBeGreaterThan(0);
    expect(records).toBe(model.records);
  });

  it('keeps traffic without wallet events to the leaderboard, and bursts() to such traffic', async () => {
    const leaderboardOnly = { ...small, walletRate: 0 };
    const all: OutgoingEvent[] = [];
    for await (const burst of trafficBursts(leaderboardOnly)) {
      expect(burst.wallet).toEqual([]);
      all.push(...burst.leaderboard);
    }
    const sent: OutgoingEvent[] = [];
    for await (const burst of bursts(leaderboardOnly)) sent.push(...burst);
    expect(sent).toEqual(all);
    await expect(bursts(small).next()).rejects.toThrow(/trafficBursts/);
  });

  it('judges a debit at its turn in its scope: a credit held back comes too late for it', () => {
    // Prepare
    const model = emptyModel();
    const event = (seq: bigint, op: string, data: Record<string, unknown>) => ({
      scope: ledgerScope,
      seq,
      mutation: defaultMutations.mutation(op, data),
    });
    const credit = event(2n, 'hincrby', { key: 'wallet', field: 'a', delta: 10 });
    // Act: seq 1, then 3 (a gap), then 2 late, then 2 again (a resend).
    const outcomes = [
      addEvent(model, event(1n, 'hincrby', { key: 'wallet', field: 'a', delta: 5 })),
      addEvent(model, event(3n, 'debit', { key: 'wallet', field: 'a', amount: 8 })),
      addEvent(model, credit),
      addEvent(model, credit),
    ];
    // Assess
    expect(outcomes.map((o) => o.kind)).toEqual(['applied', 'refused', 'appliedLate', 'duplicate']);
    expect(model.unique).toBe(3);
    expect(refusedCount(model, 'debit', 'insufficient')).toBe(1);
    expect(opCounts(model, 'hincrby').applied).toBe(2);
  });
});

describe('walletFigures()', () => {
  const model = emptyModel();
  for (const [seq, op, data] of [
    [1n, 'hincrby', { key: 'wallet', field: 'a', delta: 5 }],
    [2n, 'debit', { key: 'wallet', field: 'a', amount: 8 }],
    [3n, 'transfer', { key: 'wallet', from: 'a', to: 'b', amount: 2 }],
  ] as const) {
    addEvent(model, { scope: ledgerScope, seq, mutation: defaultMutations.mutation(op, data) });
  }
  const stream = (transfersApplied: number, entries = 3): StreamOutcomes => ({
    entries,
    byOp: new Map([
      ['hincrby', { applied: 1, refused: new Map() }],
      ['debit', { applied: 0, refused: new Map([['insufficient', 1]]) }],
      ['transfer', { applied: transfersApplied, refused: new Map() }],
    ]),
  });

  it('shows model / Redis for each row, and agrees when the stream does', () => {
    const { rows, whole, match } = walletFigures(model, stream(1));
    expect({ whole, match }).toEqual({ whole: true, match: true });
    expect(rows).toEqual([
      ['debits applied, model / Redis', '0 / 0'],
      ['debits refused (insufficient), model / Redis', '1 / 1'],
      ['transfers applied, model / Redis', '1 / 1'],
      ['transfers refused (insufficient), model / Redis', '0 / 0'],
    ]);
  });

  it('disagrees when the stream holds every event and says otherwise', () => {
    const { rows, match } = walletFigures(model, stream(0));
    expect(match).toBe(false);
    expect(rows[2]).toEqual(['transfers applied, model / Redis', '1 / 0']);
  });

  it('says Redis’s count is not known when the stream was trimmed', () => {
    const { rows, whole, match } = walletFigures(model, stream(0, 2));
    expect({ whole, match }).toEqual({ whole: false, match: true });
    expect(rows[2]?.[1]).toBe('1 / ? (the stream keeps 2 of 3 entries)');
  });
});
