/**
 * One reading of what a failed Redis call means, for every wrapper: the error replies our
 * scripts raise (lua/includes/checkLayout.lua, lua/includes/checkNotBehind.lua,
 * lua/includes/checkLayoutVersion.lua) become their typed errors, a RedisNotReplicatedError
 * (replica-wait.ts) or RedisNewerLayoutError (a wrapper's own stamp check) stays what it is, and
 * anything else (a connection, a timeout, a failover) is RedisUnavailableError, whose records
 * are retried.
 */
import {
  RedisBehindError,
  RedisLayoutError,
  RedisNewerLayoutError,
  RedisNotReplicatedError,
  RedisUnavailableError,
  type SeqguardError,
} from '../errors.ts';
import { newerLayoutMessage } from '../layout/versions.ts';

/** A script's own error reply, parsed. */
export type ScriptErrorReply =
  /** `SEQGUARD_LAYOUT <key> holds a <type>`: a bookkeeping key of another type; nothing written. */
  | { code: 'SEQGUARD_LAYOUT'; key: string; type: string }
  /**
   * `SEQGUARD_BEHIND <topic>-<partition> <held|-> <expected>`: the key holds a lower checkpoint
   * than the partition ledger says was written to it; nothing written.
   */
  | { code: 'SEQGUARD_BEHIND'; partition: string; held: string | undefined; expected: string }
  /**
   * `SEQGUARD_NEWER_LAYOUT <key> layout <stamp|-> stream format <stamp|-> reads <l> <f>`: the
   * key's stamp names a version newer than this code reads; nothing written
   * (lua/includes/checkLayoutVersion.lua).
   */
  | {
      code: 'SEQGUARD_NEWER_LAYOUT';
      key: string;
      layout: string | undefined;
      streamFormat: string | undefined;
    };

/** The reply of a script error message, or undefined for any other error. */
export function parseScriptError(message: string): ScriptErrorReply | undefined {
  if (message.includes('SEQGUARD_LAYOUT')) {
    const [, key = '', type = ''] = /SEQGUARD_LAYOUT (.*?) holds a (\S+)/.exec(message) ?? [];
    return { code: 'SEQGUARD_LAYOUT', key, type };
  }
  if (message.includes('SEQGUARD_NEWER_LAYOUT')) {
    const [, key = '', layout = '-', streamFormat = '-'] =
      /SEQGUARD_NEWER_LAYOUT (.*?) layout (\S+) stream format (\S+) reads/.exec(message) ?? [];
    const stamp = (text: string) => (text === '-' ? undefined : text);
    return {
      code: 'SEQGUARD_NEWER_LAYOUT',
      key,
      layout: stamp(layout),
      streamFormat: stamp(streamFormat),
    };
  }
  if (message.includes('SEQGUARD_BEHIND')) {
    const [, partition = '', held = '-', expected = ''] =
      /SEQGUARD_BEHIND (\S+) (\S+) (\S+)/.exec(message) ?? [];
    return { code: 'SEQGUARD_BEHIND', partition, held: held === '-' ? undefined : held, expected };
  }
  return undefined;
}

/** How a wrapper words its errors. */
export interface ScriptErrorWording {
  /** What the call was about, put before Redis's own message: e.g. `shard "board"`. */
  subject?: string;
  /** The call, for "<call> failed: <message>": e.g. `applyBatch`. */
  call: string;
  /**
   * The sentence for SEQGUARD_BEHIND, given its reading (`events-0: checkpoint 2, ledger 5`);
   * only for scripts that check a ledger.
   */
  behind?: (reading: string) => string;
}

/** `<tp>: checkpoint <held|none>, ledger <expected>`: a SEQGUARD_BEHIND reply in words. */
function behindReading(reply: Extract<ScriptErrorReply, { code: 'SEQGUARD_BEHIND' }>): string {
  return `${reply.partition}: checkpoint ${reply.held ?? 'none'}, ledger ${reply.expected}`;
}

/** The typed error of a failed Redis call (a script's or a plain command's). */
export function redisCallError(error: unknown, wording: ScriptErrorWording): SeqguardError {
  if (error instanceof RedisNotReplicatedError || error instanceof RedisNewerLayoutError)
    return error;
  const message = (error as Error | undefined)?.message ?? String(error);
  const reply = parseScriptError(message);
  const about = (text: string) => (wording.subject ? `${wording.subject}: ${text}` : text);
  if (reply?.code === 'SEQGUARD_LAYOUT')
    return new RedisLayoutError(about(message), { cause: error });
  if (reply?.code === 'SEQGUARD_NEWER_LAYOUT') {
    const { key, ...stamp } = reply;
    return new RedisNewerLayoutError(about(newerLayoutMessage(key, stamp)), { cause: error });
  }
  if (reply?.code === 'SEQGUARD_BEHIND' && wording.behind) {
    return new RedisBehindError(wording.behind(behindReading(reply)), { cause: error });
  }
  return new RedisUnavailableError(about(`${wording.call} failed: ${message}`), { cause: error });
}
