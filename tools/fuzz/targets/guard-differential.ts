/**
 * Fuzz target `guard-differential`: a fuzzer-chosen delivery of events through the real Lua guard
 * (`applyChunk()`, lua/applyBatch-6.lua) on a real redis-server, against the guard's pure model
 * (`guardEvent()`, core/guard/model.ts) fed the same events in the same order. The bytes choose
 * a first seq (0, 1, near 2^53, near 2^63), then events: a scope and seq or none (guarded by
 * offset), a partition, a built-in mutation over a few key names shared between types (so
 * WRONGTYPE happens), amounts up to int64's ends (so overflow happens), redeliveries of earlier
 * records, and where the chunks end. Properties: per chunk, the Lua's outcomes equal the
 * model's; after the delivery, state, cursors, gap ledger and running totals equal the model's.
 * test/integration/apply-batch.property.test.ts states the end-to-end guarantee from generated
 * logs; this target lets coverage steer the inputs instead.
 *
 * `fuzz()` connects to SEQGUARD_FUZZ_REDIS_URL (the runner's own redis-server);
 * `checkDelivery()` takes any client, for the regression test on the suite's Redis.
 */
import { randomBytes } from 'node:crypto';
import {
  applyChunk,
  createRedisClient,
  decodeGapMember,
  defaultMutations,
  emptyShardModel,
  type GuardedEvent,
  type GuardOptions,
  guardEvent,
  INT64_MAX,
  INT64_MIN,
  type Mutation,
  metaField,
  type RedisClient,
  type ShardModel,
  shardKeys,
  stateKey,
} from '../../../core/index.ts';
import { ByteReader, expectThat, stringify } from '../bytes.ts';

const bases = [0n, 1n, 2n ** 53n - 7n, 2n ** 63n - 100_000n];
const keyNames = ['a', 'b', 'c'];
const members = ['ann', 'bob', 'cy'];
const ops = [
  'zincrby',
  'hincrby',
  'hsetIfNewer',
  'debit',
  'transfer',
  'zmax',
  'zmin',
  'sadd',
  'srem',
];
const maxChunk = 16;

function bigAmount(input: ByteReader): string {
  const choice = input.byte();
  if (choice % 16 === 0) return String(INT64_MAX - BigInt(choice >> 4));
  if (choice % 16 === 1) return String(INT64_MIN + BigInt(choice >> 4));
  return String((choice >> 2) - 32);
}

function mutationOf(input: ByteReader, version: bigint): Mutation {
  const op = input.pick(ops);
  const key = input.pick(keyNames);
  const member = input.pick(members);
  const other = members[(members.indexOf(member) + 1 + (input.byte() % 2)) % members.length];
  const small = input.byte();
  const data: Record<string, unknown> = (() => {
    switch (op) {
      case 'zincrby':
        return { key, member, delta: String((small - 128) / 2) };
      case 'hincrby':
        return { key, field: member, delta: bigAmount(input) };
      case 'hsetIfNewer':
        return {
          key,
          field: member,
          value: `v${small}`,
          version: String(version + BigInt(small % 4)),
        };
      case 'debit':
        return {
          key,
          field: member,
          amount: small % 32,
          ...(small & 1 ? { floor: bigAmount(input) } : {}),
        };
      case 'transfer':
        return small & 1
          ? { key, from: member, to: other, amount: small % 40 }
          : {
              key,
              from: member,
              to: member,
              toKey: input.pick(keyNames.filter((k) => k !== key)),
              amount: small % 40,
            };
      case 'zmax':
      case 'zmin':
        return { key, member, score: (small - 128) / 4 };
      default:
        return { key, member };
    }
  })();
  return defaultMutations.mutation(op, data);
}

/** The delivery the bytes describe: its first seq and its chunks of events. */
export function deliveryOf(
  data: Uint8Array,
  shard: string,
): { base: bigint; chunks: GuardedEvent[][] } {
  const input = new ByteReader(data);
  const base = input.pick(bases);
  const sent: GuardedEvent[] = [];
  const chunks: GuardedEvent[][] = [[]];
  const nextOffset = [base, base + 1000n];
  while (!input.done && sent.length < 64) {
    const flags = input.byte();
    const redelivery = flags & 0x80 && sent.length > 0;
    let event: GuardedEvent;
    if (redelivery) {
      event = sent[input.byte() % sent.length] as GuardedEvent;
    } else {
      const partition = (flags >> 2) & 1;
      const offset = nextOffset[partition] as bigint;
      nextOffset[partition] = offset + 1n;
      const scope = flags & 3;
      event = {
        shard,
        sequence:
          scope === 3
            ? null
            : { scope: `scope-${scope}`, seq: String(base + BigInt(input.byte() % 16)) },
        mutation: mutationOf(input, base),
        record: { topic: 't', partition, offset: String(offset), timestamp: 1 },
      };
      sent.push(event);
    }
    const chunk = chunks.at(-1) as GuardedEvent[];
    chunk.push(event);
    if (flags & 0x40 || chunk.length >= maxChunk) chunks.push([]);
  }
  return { base, chunks: chunks.filter((c) => c.length > 0) };
}

/** Scores as Redis compares them: -0 is 0. */
const scoreText = (n: number) => String(n === 0 ? 0 : n);

function modelState(model: ShardModel): Record<string, string> {
  const state: Record<string, string> = {};
  for (const name of keyNames) {
    const value = model.state.get(name);
    if (value === undefined) continue;
    const entries =
      value.type === 'zset'
        ? [...value.members].map(([m, s]) => `${m}=${scoreText(s.score)}`)
        : value.type === 'hash'
          ? [...value.fields].map(([f, v]) => `${f}=${v}`)
          : [...value.members];
    state[name] = `${value.type}:${entries.sort().join(',')}`;
  }
  return state;
}

async function redisState(redis: RedisClient, shard: string): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const name of keyNames) {
    const key = stateKey(shard, name);
    const type = await redis.type(key);
    if (type === 'none') continue;
    let entries: string[];
    if (type === 'zset') {
      const flat = await redis.zrange(key, '0', '-1', 'WITHSCORES');
      entries = flat.flatMap((m, i) => (i % 2 ? [] : [`${m}=${scoreText(Number(flat[i + 1]))}`]));
    } else if (type === 'hash') {
      entries = Object.entries(await redis.hgetall(key)).map(([f, v]) => `${f}=${v}`);
    } else {
      entries = await redis.smembers(key);
    }
    state[name] = `${type}:${entries.sort().join(',')}`;
  }
  return state;
}

function modelBookkeeping(model: ShardModel) {
  const cursors: Record<string, string> = {};
  const gaps: string[] = [];
  for (const [field, cursor] of model.cursors) {
    cursors[field] = cursor.value.toString();
    for (const [first, last] of cursor.gaps) gaps.push(`${field}:${first}-${last}`);
  }
  const totals: Record<string, string> = { applied: String(model.applied) };
  for (const [name, total] of model.totals) {
    if (total.count !== 0) totals[metaField.count(name)] = String(total.count);
    if (total.sum !== 0) totals[metaField.sum(name)] = String(total.sum);
  }
  return { cursors, gaps: gaps.sort(), totals };
}

async function redisBookkeeping(redis: RedisClient, shard: string) {
  const keys = shardKeys(shard);
  const gaps = (await redis.zrange(keys.gaps, '0', '-1')).map((member) => {
    const gap = decodeGapMember(member);
    return `${gap.field}:${gap.first}-${gap.last}`;
  });
  const meta = await redis.hgetall(keys.meta);
  const totals: Record<string, string> = { applied: meta[metaField.applied] ?? '0' };
  for (const [field, value] of Object.entries(meta)) {
    if (field.startsWith('n:') && value !== '0') totals[field] = value;
    // HINCRBYFLOAT's text, read as the double the model sums.
    if (field.startsWith('sum:') && Number(value) !== 0) totals[field] = String(Number(value));
  }
  return { cursors: await redis.hgetall(keys.cursors), gaps: gaps.sort(), totals };
}

/** Applies the delivery through the Lua and the model; a FuzzFindingError where they differ. */
export async function checkDelivery(redis: RedisClient, data: Uint8Array): Promise<void> {
  const shard = `fuzz-${randomBytes(6).toString('hex')}`;
  const { base, chunks } = deliveryOf(data, shard);
  const options: GuardOptions = {
    firstSeq: String(base),
    streamMaxLen: 0,
    streamMaxAgeMs: 0,
    keyPrefix: 'sg',
  };
  const model = emptyShardModel();
  try {
    for (const chunk of chunks) {
      const actual = await applyChunk(redis, shard, chunk, options);
      const expected = chunk.map((event) => guardEvent(model, event, base));
      expectThat(
        stringify(actual) === stringify(expected),
        'the Lua and the model agree on every outcome',
        {
          chunk: chunk.map((e) => [e.sequence, e.record.offset, e.mutation]),
          lua: actual,
          model: expected,
        },
      );
    }
    const luaState = await redisState(redis, shard);
    expectThat(
      stringify(luaState) === stringify(modelState(model)),
      "the state equals the model's",
      {
        lua: luaState,
        model: modelState(model),
      },
    );
    const lua = await redisBookkeeping(redis, shard);
    const expected = modelBookkeeping(model);
    expectThat(
      stringify(lua) === stringify(expected),
      "cursors, gaps and totals equal the model's",
      {
        lua,
        model: expected,
      },
    );
  } finally {
    await redis.del(...Object.values(shardKeys(shard)), ...keyNames.map((k) => stateKey(shard, k)));
  }
}

let client: RedisClient | undefined;

export async function fuzz(data: Uint8Array): Promise<void> {
  const url = process.env.SEQGUARD_FUZZ_REDIS_URL;
  if (url === undefined) throw new TypeError('guard-differential needs SEQGUARD_FUZZ_REDIS_URL');
  client ??= createRedisClient({ url, cluster: false, commandTimeoutMs: 10_000 });
  await checkDelivery(client, data);
}
