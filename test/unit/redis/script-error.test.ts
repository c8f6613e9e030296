/**
 * The one reading of a failed Redis call: the error replies of lua/includes/checkLayout.lua and
 * lua/includes/checkNotBehind.lua (as ioredis reports them, with Redis's script suffix) to their
 * typed errors, everything else to RedisUnavailableError. Real replies from a real Redis are
 * test/integration/ledger.test.ts's and apply-batch.test.ts's.
 */
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  RedisBehindError,
  RedisLayoutError,
  RedisNewerLayoutError,
  RedisNotReplicatedError,
  RedisUnavailableError,
} from '../../../core/errors.ts';
import { parseScriptError, redisCallError } from '../../../core/redis/script-error.ts';

const suffix = ' script: 5f1c0e2a, on @user_script:42.';
const layout = new ReplyError(`SEQGUARD_LAYOUT {sg:board}:cursors holds a string${suffix}`);
const behind = new ReplyError(`SEQGUARD_BEHIND events-0 - 5${suffix}`);
const newer = new ReplyError(
  `SEQGUARD_NEWER_LAYOUT {sg:board}:meta layout 2 stream format - reads 1 3${suffix}`,
);

describe('parseScriptError()', () => {
  it('reads the code and its fields from a script error reply, and nothing from other errors', () => {
    expect(parseScriptError(layout.message)).toEqual({
      code: 'SEQGUARD_LAYOUT',
      key: '{sg:board}:cursors',
      type: 'string',
    });
    expect(parseScriptError(`SEQGUARD_BEHIND events-3 12 40${suffix}`)).toEqual({
      code: 'SEQGUARD_BEHIND',
      partition: 'events-3',
      held: '12',
      expected: '40',
    });
    expect(parseScriptError(behind.message)).toMatchObject({ held: undefined, expected: '5' });
    expect(parseScriptError(newer.message)).toEqual({
      code: 'SEQGUARD_NEWER_LAYOUT',
      key: '{sg:board}:meta',
      layout: '2',
      streamFormat: undefined,
    });
    expect(parseScriptError('Connection is closed.')).toBeUndefined();
  });
});

describe('redisCallError()', () => {
  const wording = {
    subject: 'shard "board"',
    call: 'applyBatch',
    behind: (reading: string) => `behind (${reading})`,
  };

  it('maps SEQGUARD_LAYOUT to RedisLayoutError, with the cause kept', () => {
    const error = redisCallError(layout, wording);
    expect(error).toBeInstanceOf(RedisLayoutError);
    expect(error.message).toBe(`shard "board": ${layout.message}`);
    expect(error.cause).toBe(layout);
  });

  it('maps SEQGUARD_BEHIND to RedisBehindError in words, where the wrapper checks a ledger', () => {
    const error = redisCallError(behind, wording);
    expect(error).toBeInstanceOf(RedisBehindError);
    expect(error.message).toBe('behind (events-0: checkpoint none, ledger 5)');
    expect(redisCallError(behind, { call: 'advanceLedger' })).toBeInstanceOf(RedisUnavailableError);
  });

  it('maps SEQGUARD_NEWER_LAYOUT to RedisNewerLayoutError, naming the stamp and what to do', () => {
    const error = redisCallError(newer, wording);
    expect(error).toBeInstanceOf(RedisNewerLayoutError);
    expect(error.message).toBe(
      'shard "board": {sg:board}:meta holds layout 2, written by a newer seqguard; this code reads layout 1 and stream format 3 at most. Nothing was written and the records are retried: the newer version takes them once it runs (docs/operations.md, "Upgrading and rolling back")',
    );
    expect(error.cause).toBe(newer);
    // A wrapper that met the stamp itself passes the error on as it is.
    const own = new RedisNewerLayoutError('stamped');
    expect(redisCallError(own, wording)).toBe(own);
  });

  it('keeps RedisNotReplicatedError, and makes anything else RedisUnavailableError', () => {
    const notReplicated = new RedisNotReplicatedError('0 of 1 replicas acknowledged');
    expect(redisCallError(notReplicated, wording)).toBe(notReplicated);
    const closed = new Error('Connection is closed.');
    const error = redisCallError(closed, wording);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect(error.message).toBe('shard "board": applyBatch failed: Connection is closed.');
  });
});
