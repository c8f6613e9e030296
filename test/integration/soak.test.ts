/**
 * `npm run soak` itself, very short: a few thousand events with a few kinds of fault (sink kills
 * at every point, Redis restarted empty, the producer killed mid-send, connections dropped),
 * on servers of its own. It must end exact, say so, and write its report.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const execFileAsync = promisify(execFile);

describe('npm run soak', () => {
  it('ends exact through sink kills, Redis restarted empty, a producer kill and dropped connections', async () => {
    // Prepare
    const report = join(inject('tempRoot'), 'soak-test-report.html');
    const args = [
      'local/soak/main.ts',
      '--quick',
      '--plaintext',
      '--seed',
      '11',
      '--events',
      '8000',
      '--rate',
      '800',
      '--malformed-rate',
      '0.01',
      '--check-interval',
      '1000',
      '--faults',
      'sinkKill,redisRestartEmpty,producerKill,connectionDrop',
      '--report',
      report,
    ];
    // Act
    const { stdout } = await execFileAsync(process.execPath, args, {
      env: { ...process.env, KAFKA_BROKERS: undefined, REDIS_URL: undefined },
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`the soak failed: ${error.message}\n${error.stdout}\n${error.stderr}`);
    });
    // Assess
    expect(stdout).toMatch(/^\s+LOST\s+0$/m);
    expect(stdout).toMatch(/^\s+DUPLICATED\s+0$/m);
    expect(stdout).toMatch(/^\s+running totals match the model\s+yes$/m);
    expect(stdout).toMatch(/^\s+other state entries that are wrong \([\w, ]+\)\s+0$/m);
    // Debits, transfers and spins refused, as many as the model says, by the state.
    const [, refused, modelRefused] =
      /^\s+events refused \(by the state: seqs consumed, not applied\)\s+([\d,]+) of the model's ([\d,]+)$/m.exec(
        stdout,
      ) ?? [];
    expect(Number(refused?.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(refused).toBe(modelRefused);
    expect(stdout).toMatch(/debit [\d,]+ \([\d,]+ insufficient\)/);
    expect(stdout).toMatch(/cappedIncr [\d,]+ \([\d,]+ capped\)/);
    expect(stdout).toMatch(/^\s+dead letters \(exactly one per malformed record\)\s+(\d+) of \1$/m);
    expect(stdout).toMatch(/^\s+sink kills that hit a batch\s+[3-9]/m);
    // The read side through the faults: reads at a position never wrong, some answered; the
    // delta-stream view never above the model and equal to the leaderboard at the end.
    expect(stdout).toMatch(
      /^\s+sampled reads at the last position found readable: below its model or above the model now\s+0 of [1-9][\d,]* answered/m,
    );
    expect(stdout).toMatch(/^\s+delta-stream view: a sampled score above the model\s+0 of /m);
    expect(stdout).toMatch(/^\s+delta-stream view equals the leaderboard at the end\s+yes/m);
    expect(stdout).toMatch(/produce-to-readable p50 \/ p99 .*\s\d+ \/ \d+ ms \([\d,]+ bursts/);
    expect(stdout).toMatch(/redis-server killed, restarted empty: .*lost [\d,]+ acknowledged/);
    expect(stdout).toMatch(/producer SIGKILLed while (stamping|sending)/);
    expect(stdout).toContain('OK: every event applied exactly once, through every fault.');
    expect(existsSync(report)).toBe(true);
  }, 300_000);
});
