/**
 * Read-your-writes through the local pipeline (Kafka broker, event source mapping emulator, the
 * real apply-events handler in its own process, the drift monitor repairing every 250 ms): each
 * event is produced, its position taken, and the score read at it, which must be the model's
 * score of the unique events up to it, every time: across a sink killed mid-batch and a
 * redis-server restarted empty. A delta-stream view follows the same shard throughout and ends
 * equal to the state.
 */
import { describe, expect, it } from 'vitest';
import { NotUpToBoundError } from '../../core/errors.ts';
import { type Position, positionOf } from '../../core/events/position.ts';
import { createReader } from '../../core/reading/reader.ts';
import { createStreamView } from '../../core/reading/stream-view.ts';
import { seed, useDriftBench } from '../helpers/drift.ts';
import { leaderboardOf, restartEmpty } from '../helpers/reading.ts';

const single = useDriftBench();

/** The position of `<topic>-<partition>@<offset>`, as the bench's produce returns it. */
function positionAt(topic: string, written: string): Position {
  const [tp, offset] = written.split('@') as [string, string];
  const partition = Number(tp.slice(topic.length + 1));
  return positionOf([{ topic, partition, offset: BigInt(offset) }]);
}

describe('read-your-writes through the pipeline', () => {
  it('reads every write at its position, across a sink kill and a Redis restarted empty', async () => {
    // Prepare
    const s = await single.setUp('ryw');
    // The sandbox dies (SIGKILL) a moment into an invocation from the 8th on, until a kill hit
    // a batch (one that finds the invocation returned hit nothing: the next one gets another).
    let hits = 0;
    let armed = false;
    s.pipeline({
      mapping: {
        onActivity: (a) => {
          if (a.kind !== 'invoked' || !armed) return;
          armed = false;
          if (a.outcome === 'functionError' && /SIGKILL/.test(a.detail ?? '')) hits += 1;
        },
      },
      function: {
        onInvoke: (sandbox, invocation) => {
          if (armed || hits >= 1 || invocation < 8) return;
          setTimeout(() => {
            if (sandbox.busy && sandbox.kill('SIGKILL')) armed = true;
          }, 2);
        },
      },
    });
    s.monitor.start();
    const reader = createReader(s.redis, { keyPrefix: s.prefix, topics: [s.topic] });
    const view = createStreamView(s.redis, {
      shard: 'default',
      name: 'leaderboard',
      keyPrefix: s.prefix,
      blockMs: 200,
      onError: () => {},
    });
    await view.start();
    const model = new Map<string, number>();
    const seqs = new Map<string, number>();
    let refusedWhileRepairing = 0;
    // Act + Assess, event by event.
    for (let round = 0; round < 40; round++) {
      const player = `p${round % 4}`;
      const seq = (seqs.get(player) ?? 0) + 1;
      seqs.set(player, seq);
      const [written] = await s.produce([seed(player, seq, round + 1)]);
      model.set(player, (model.get(player) ?? 0) + round + 1);
      const at = positionAt(s.topic, written as string);
      if (round === 25) {
        // Redis forgets everything; the repair is held back until the read was refused.
        await s.monitor.stop();
        await restartEmpty(single.server());
        const refused = await reader
          .score('default', 'leaderboard', player, { at })
          .catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(NotUpToBoundError);
        refusedWhileRepairing++;
        s.monitor.start();
      }
      await reader.waitFor(at, { timeoutMs: 60_000, shard: 'default' });
      expect(await reader.score('default', 'leaderboard', player, { at }), `round ${round}`).toBe(
        model.get(player),
      );
    }
    // Assess: the kill hit a batch; the view equals the state.
    await s.caughtUp(60_000);
    expect(hits).toBe(1);
    expect(refusedWhileRepairing).toBe(1);
    await view.caughtUp(30_000);
    const state = await leaderboardOf(s.redis, 'default', s.prefix);
    expect(view.top(100)).toEqual(state);
    expect(Object.fromEntries(state.map((m) => [m.member, m.score]))).toEqual(
      Object.fromEntries(model),
    );
    expect(view.warmups).toBeGreaterThanOrEqual(2); // it warmed again after the restart
    await view.stop();
    reader.close();
  }, 180_000);
});
