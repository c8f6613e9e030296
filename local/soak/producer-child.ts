/**
 * The soak's producer, in a process of its own so that it can be SIGKILLed mid-send: it stamps
 * each burst's events with seqs from the durable per-scope counters (`redisSequenceSource`, on a
 * Redis of the producer's own that no fault touches), publishes them through the hardened
 * producer, and malformed records through a raw producer with the same settings.
 *
 * Killed at any point, it is restarted and asked for the same burst again, and it publishes
 * that burst exactly once in all, with the seqs it stamped before:
 * - before stamping, the outbox (one key in the counters' Redis) records the burst, the scopes'
 *   counters and the log end of every partition; after stamping, the seqs too;
 * - restarted with seqs in the outbox, it sends them again; restarted without, the seqs drawn
 *   before the kill were never sent: they are reported as such (each leaves an open gap that the
 *   drift checks report, as the sequencer documents) and the burst is stamped anew;
 * - it is the only writer of the topic, and each send puts one batch on each partition, which
 *   Kafka appends whole or not at all: so the log end of each partition against the outbox says
 *   which parts of the burst landed, and only the rest is sent.
 *
 *   env SOAK_PRODUCER (JSON: topic, kafka, counters, keyPrefix); IPC in {burst, drafts};
 *   IPC out {ready}, {stamped, seqs, skipped}, {acked}, {fatal}
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Producer } from '@platformatic/kafka';
import {
  createAdmin,
  createKafkaProducer,
  createRedisClient,
  type KafkaConnection,
  partitionRanges,
  producerOutboxKey,
  producerSeqKey,
  type RedisConnectionOptions,
} from '../../core/index.ts';

import {
  createProducer,
  type EventProducer,
  partitionOf,
  positionOf,
  positionToken,
  publishEvents,
  redisSequenceSource,
} from '../../core/producer/index.ts';

import { type Draft, type EventDraft, envelopeOf } from './traffic.ts';

export interface ProducerChildSettings {
  topic: string;
  kafka: KafkaConnection;
  counters: RedisConnectionOptions;
  keyPrefix: string;
}

export type ToProducer = { burst: number; drafts: Draft[] };
export type FromProducer =
  | { ready: true }
  | { stamped: number; seqs: string[]; skipped: [string, string, string][] }
  /** `token`: the position of every record the topic holds now (docs/reading.md). */
  | { acked: number; token?: string }
  | { fatal: string };

/** The outbox: the burst being sent, and what is needed to finish it after a kill. */
interface Outbox {
  burst: number;
  /** Each scope's counter before the burst was stamped (absent: never used). */
  before: Record<string, string | null>;
  /** Log end of each partition before the burst's first send. */
  ends: Record<string, string>;
  /** The seq of each of the burst's events, in order, once stamped. */
  seqs?: string[];
}

const settings = JSON.parse(process.env.SOAK_PRODUCER ?? '{}') as ProducerChildSettings;
/** The outbox's key in the producer's own Redis (only its counters live there besides). */
const OUTBOX_KEY = producerOutboxKey(settings.keyPrefix);
const send = (message: FromProducer) => process.send?.(message);
const debug = process.env.SOAK_DEBUG
  ? (...a: unknown[]) => console.error('[producer]', ...a)
  : () => {};

const counters = createRedisClient({ ...settings.counters, onError: () => {} });
const sequences = redisSequenceSource(counters, { keyPrefix: settings.keyPrefix });
let producer: EventProducer = createProducer({ ...settings.kafka, clientId: 'seqguard-soak' });
let raw: Producer<Buffer, Buffer, Buffer, Buffer> = rawProducer();
let admin: Admin = createAdmin({ ...settings.kafka, clientId: 'seqguard-soak-ends' });

function rawProducer() {
  return createKafkaProducer<Buffer, Buffer, Buffer, Buffer>(
    { ...settings.kafka, clientId: 'seqguard-soak-raw' },
    { idempotent: true, acks: -1, retries: 8 },
  );
}

async function logEnds(): Promise<Map<number, bigint>> {
  const ranges = await partitionRanges(admin, [settings.topic]);
  return new Map(ranges.map((r) => [r.partition, r.end]));
}

/** Draws the burst's seqs, with the outbox written before and after. */
async function stamp(burst: number, drafts: Draft[]): Promise<Outbox> {
  const events = drafts.filter((d): d is EventDraft => d.kind === 'event');
  const scopes = [...new Set(events.map((e) => e.scope))];
  const values = scopes.length
    ? await counters.mget(...scopes.map((s) => producerSeqKey(s, settings.keyPrefix)))
    : [];
  const outbox: Outbox = {
    burst,
    before: Object.fromEntries(scopes.map((s, i) => [s, values[i] ?? null])),
    ends: Object.fromEntries([...(await logEnds())].map(([p, end]) => [p, String(end)])),
  };
  await counters.set(OUTBOX_KEY, JSON.stringify(outbox));
  const seqs: string[] = [];
  for (const event of events) seqs.push(String(await sequences.next(event.scope)));
  outbox.seqs = seqs;
  await counters.set(OUTBOX_KEY, JSON.stringify(outbox));
  return outbox;
}

/** Seqs drawn for a burst whose stamping a kill cut short: they will never be sent. */
async function drawnButUnsent(outbox: Outbox): Promise<[string, string, string][]> {
  const scopes = Object.keys(outbox.before);
  if (scopes.length === 0) return [];
  const now = await counters.mget(...scopes.map((s) => producerSeqKey(s, settings.keyPrefix)));
  return scopes.flatMap((scope, i) => {
    const before = BigInt(outbox.before[scope] ?? 0);
    const after = BigInt(now[i] ?? 0);
    // The default first seq is 1, so the n-th seq of a scope is n.
    return after > before
      ? [[scope, String(before + 1n), String(after)] as [string, string, string]]
      : [];
  });
}

/** Sends what of the burst has not landed yet, until all of it has. */
async function publish(outbox: Outbox, drafts: Draft[]): Promise<void> {
  const seqs = outbox.seqs as string[];
  const partitions = Object.keys(outbox.ends).length;
  const valid: { scope: string; value: unknown; partition: number; late: boolean }[] = [];
  let next = 0;
  for (const draft of drafts) {
    if (draft.kind !== 'event') continue;
    const seq = BigInt(seqs[next++] as string);
    const event = {
      scope: draft.scope,
      value: envelopeOf(draft, seq),
      partition: partitionOf(draft.scope, partitions),
      late: draft.late,
    };
    // A producer resend: the same event, with the same seq, twice.
    valid.push(...(draft.resend ? [event, event] : [event]));
  }
  // Late events go last: the guard opens a gap for them, then fills it.
  valid.sort((a, b) => Number(a.late) - Number(b.late));
  const malformed = drafts.flatMap((d) =>
    d.kind === 'malformed'
      ? [
          {
            key: d.key,
            value: Buffer.from(d.value, 'base64'),
            partition: partitionOf(d.key, partitions),
          },
        ]
      : [],
  );
  for (let attempt = 1; ; attempt++) {
    try {
      const ends = await logEnds();
      const sendValid: typeof valid = [];
      const sendMalformed: typeof malformed = [];
      for (let p = 0; p < partitions; p++) {
        const landed = (ends.get(p) ?? 0n) - BigInt(outbox.ends[p] ?? '0');
        const v = valid.filter((e) => e.partition === p);
        const m = malformed.filter((r) => r.partition === p);
        if (landed === 0n) {
          sendValid.push(...v);
          sendMalformed.push(...m);
        } else if (landed === BigInt(v.length) && m.length > 0) {
          sendMalformed.push(...m);
        } else if (landed !== BigInt(v.length + m.length)) {
          throw new FatalError(
            `partition ${p} holds ${landed} records of burst ${outbox.burst} past the outbox's log end; it sent ${v.length} events and ${m.length} malformed records`,
          );
        }
      }
      if (sendValid.length > 0) await publishEvents(producer, settings.topic, sendValid);
      if (sendMalformed.length > 0)
        await raw.send({
          messages: sendMalformed.map((r) => ({
            topic: settings.topic,
            key: Buffer.from(r.key, 'utf8'),
            value: r.value,
            partition: r.partition,
          })),
        });
      return;
    } catch (error) {
      if (error instanceof FatalError) throw error;
      // The broker is away (restarted, unreachable): new clients, then look again at what
      // landed, since a send that failed may still have written some partitions.
      await sleep(Math.min(500 * attempt, 3_000));
      await reconnect();
    }
  }
}

/**
 * The position of the last record of each partition, this burst's included: a read at it sees
 * every event published so far. None when the broker is away (the soak reads at a later one).
 */
async function positionNow(): Promise<{ token?: string }> {
  try {
    const last = [...(await logEnds())]
      .filter(([, end]) => end > 0n)
      .map(([partition, end]) => ({ topic: settings.topic, partition, offset: end - 1n }));
    return last.length === 0 ? {} : { token: positionToken(positionOf(last)) };
  } catch {
    return {};
  }
}

class FatalError extends Error {
  override name = 'FatalError';
}

/** New Kafka clients after a failure: the broker may have restarted. */
async function reconnect(): Promise<void> {
  await Promise.allSettled([producer.close(true), raw.close(true), admin.close()]);
  producer = createProducer({ ...settings.kafka, clientId: 'seqguard-soak' });
  raw = rawProducer();
  admin = createAdmin({ ...settings.kafka, clientId: 'seqguard-soak-ends' });
}

/**
 * One burst. A failure before the burst is stamped (the broker away while its log ends are read)
 * is handled as a kill is: the burst is taken up again from the outbox.
 */
async function handle({ burst, drafts }: ToProducer): Promise<void> {
  debug('request', burst, drafts.length);
  const stored = await counters.get(OUTBOX_KEY);
  const found = stored ? (JSON.parse(stored) as Outbox) : undefined;
  let skipped: [string, string, string][] = [];
  let outbox: Outbox;
  if (found?.burst === burst && found.seqs) {
    outbox = found; // restarted after the stamps were kept: the same seqs again
  } else {
    if (found?.burst === burst) skipped = await drawnButUnsent(found);
    outbox = await stamp(burst, drafts);
  }
  send({ stamped: burst, seqs: outbox.seqs as string[], skipped });
  debug('stamped', burst);
  await publish(outbox, drafts);
  debug('published', burst);
  send({ acked: burst, ...(await positionNow()) });
}

let queue: Promise<void> = Promise.resolve();
process.on('message', (request: ToProducer) => {
  queue = queue.then(async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        await handle(request);
        return;
      } catch (error) {
        // A refusal by Redis (a missing right, a wrong password) will not pass by itself.
        const refused = /^(NOPERM|WRONGPASS|NOAUTH)/.test((error as Error).message ?? '');
        if (error instanceof FatalError || refused || attempt >= 100) {
          send({ fatal: (error as Error).stack ?? String(error) });
          return;
        }
        debug('retrying after', (error as Error).message);
        await sleep(Math.min(500 * attempt, 3_000));
        await reconnect();
      }
    }
  });
});
process.on('disconnect', () => process.exit(0));

// A killed predecessor's last request may still be on its way into the log: wait it out, so that
// the log ends read next are final.
await sleep(1_000);
send({ ready: true });
