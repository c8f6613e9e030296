/**
 * The soak's side of its producer process (producer-child.ts): asks it for one burst at a time,
 * restarts it when it dies (a kill is one of the soak's faults), and asks again for the burst it
 * did not finish. Each burst's stamps are handed on once, the first time they are reported.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ProducerProcessError } from '../scenario/errors.ts';
import type { FromProducer, ProducerChildSettings } from './producer-child.ts';
import type { Draft } from './traffic.ts';

const childEntry = fileURLToPath(new URL('./producer-child.ts', import.meta.url));

/** Where a kill of the producer lands: while it draws seqs, or while it sends. */
export type ProducerKillPhase = 'stamping' | 'sending';

export interface Stamps {
  burst: number;
  seqs: bigint[];
  /** Seqs drawn by a killed process and never sent: [scope, first, last]. */
  skipped: [string, bigint, bigint][];
}

export class SoakProducer {
  readonly #settings: ProducerChildSettings;
  readonly #onStamped: (stamps: Stamps) => void;
  #child: ChildProcess | undefined;
  #ready: Promise<void> | undefined;
  #lastStamped = -1;
  #armed: ProducerKillPhase | undefined;
  #onKill: (() => void) | undefined;
  kills = 0;
  starts = 0;

  constructor(settings: ProducerChildSettings, onStamped: (stamps: Stamps) => void) {
    this.#settings = settings;
    this.#onStamped = onStamped;
  }

  #start(): Promise<void> {
    if (
      this.#ready &&
      this.#child &&
      this.#child.exitCode === null &&
      this.#child.signalCode === null
    )
      return this.#ready;
    this.starts += 1;
    const child = fork(childEntry, [], {
      env: { ...process.env, SOAK_PRODUCER: JSON.stringify(this.#settings) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    child.on('error', () => {});
    this.#child = child;
    this.#ready = new Promise((resolve, reject) => {
      child.on('message', (m: FromProducer) => {
        if ('ready' in m) resolve();
      });
      child.once('exit', (code, signal) =>
        reject(
          new ProducerProcessError(
            `the producer process exited (${signal ?? code}) before it was ready`,
          ),
        ),
      );
    });
    this.#ready.catch(() => {});
    return this.#ready;
  }

  /** The next request is killed in `phase`; `onKill` is told when the kill is sent. */
  armKill(phase: ProducerKillPhase, onKill: () => void): void {
    this.#armed = phase;
    this.#onKill = onKill;
  }

  #killNow(child: ChildProcess): void {
    this.#armed = undefined;
    if (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')) {
      this.kills += 1;
      this.#onKill?.();
    }
  }

  /**
   * Publishes burst `burst` once, whatever kills it meets; resolves once all of it landed, with
   * the position token of the topic's records then (undefined if the broker was away).
   */
  async publish(burst: number, drafts: Draft[]): Promise<string | undefined> {
    let token: string | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#start();
      } catch {
        // Killed during its start: start again.
        continue;
      }
      const child = this.#child as ChildProcess;
      const outcome = await new Promise<'acked' | 'died'>((resolve, reject) => {
        const onMessage = (m: FromProducer) => {
          if ('stamped' in m && m.stamped === burst) {
            if (burst > this.#lastStamped) {
              this.#lastStamped = burst;
              this.#onStamped({
                burst,
                seqs: m.seqs.map(BigInt),
                skipped: m.skipped.map(([s, a, b]) => [s, BigInt(a), BigInt(b)]),
              });
            }
            if (this.#armed === 'sending') this.#killNow(child);
          } else if ('acked' in m && m.acked === burst) {
            done();
            token = m.token;
            resolve('acked');
          } else if ('fatal' in m) {
            done();
            reject(new ProducerProcessError(`the producer failed: ${m.fatal}`));
          }
        };
        const onExit = () => {
          done();
          resolve('died');
        };
        const done = () => {
          child.off('message', onMessage);
          child.off('exit', onExit);
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send({ burst, drafts }, (error) => {
          if (error) child.kill('SIGKILL');
        });
        // Stamping draws one seq per event from Redis: a few ms in, it is under way.
        if (this.#armed === 'stamping')
          setTimeout(() => this.#killNow(child), 2 + Math.random() * 8);
      });
      if (outcome === 'acked') return token;
      if (attempt > 50)
        throw new ProducerProcessError(`burst ${burst}: the producer died 50 times`);
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
}
