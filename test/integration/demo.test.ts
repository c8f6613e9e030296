/**
 * `npm run demo` itself, as a user runs it: small, against the suite's broker and Redis, it must
 * end with no loss, no duplicate, a crash survived and exit code 0, whatever the stream keeps.
 * When something is wrong it must say what within seconds, and on every way out it must leave no
 * server, no handler process and no temp folder behind.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { canConnect } from '../../local/emulators/ports.ts';
import { suiteTarget, urlWithLogin } from '../helpers/redis.ts';

const execFileAsync = promisify(execFile);
const small = ['--events', '1500', '--rate', '3000', '--players', '50', '--malformed-rate', '0.01'];

/** A temp folder of the demo's own (TMPDIR), to see what it leaves behind. */
const tempDirs: string[] = [];
function privateTmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'seqguard-demo-test-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * The suite's servers as the demo takes them: KAFKA_BROKERS names plaintext brokers only (the
 * suite broker keeps a plaintext listener), and a secure REDIS_URL carries the app user's login,
 * with the CA to trust beside it.
 */
function suiteServers(): Record<string, string> {
  const redis = suiteTarget();
  return {
    KAFKA_BROKERS: inject('kafkaPlaintextBootstrap'),
    REDIS_URL: urlWithLogin(redis),
    ...(redis.access ? { SEQGUARD_REDIS_CA_FILE: redis.access.caFile } : {}),
  };
}

/** Runs the demo to its end; never throws, so that failures can be asserted on. */
async function demo(args: string[], env: Record<string, string | undefined>, timeoutMs = 120_000) {
  const started = Date.now();
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ['local/demo/main.ts', ...args],
      {
        env: { ...process.env, ...env },
        timeout: timeoutMs,
      },
    );
    return { code: 0, stdout, stderr, ms: Date.now() - started };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr, ms: Date.now() - started };
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run demo', () => {
  it('reports every event applied exactly once across a crash', async () => {
    // Prepare / Act
    const { code, stdout } = await demo(small, suiteServers());
    // Assess
    expect(stdout).toMatch(/^\s+LOST\s+0$/m);
    expect(stdout).toMatch(/^\s+DUPLICATED\s+0$/m);
    expect(stdout).toMatch(/^\s+running totals match the model\s+yes$/m);
    expect(stdout).toMatch(/^\s+wallet balances that are wrong\s+0$/m);
    // The wallet's debits refused and transfers applied, as the model predicts them and as the
    // delta stream records them, and the refusals the state tells.
    for (const row of ['debits refused \\(insufficient\\)', 'transfers applied']) {
      const [, model, redis] =
        new RegExp(`^\\s+${row}, model / Redis\\s+(\\d+) / (\\d+)$`, 'm').exec(stdout) ?? [];
      expect(Number(model), row).toBeGreaterThan(0);
      expect(redis, row).toBe(model);
    }
    const [, refused, modelRefused] =
      /^\s+events refused by their mutation \(by the state\)\s+(\d+) \(model: (\d+)\)$/m.exec(
        stdout,
      ) ?? [];
    expect(Number(refused)).toBeGreaterThan(0);
    expect(refused).toBe(modelRefused);
    // One kill hit a batch, as asked; one sent while an invocation was ending may have landed
    // after it and hit nothing, and then the demo sent another.
    const [, sent, hit] =
      /^\s+handler kills sent \/ hit a batch\s+(\d+) \/ (\d+)$/m.exec(stdout) ?? [];
    expect(Number(hit)).toBe(1);
    expect(Number(sent)).toBeGreaterThanOrEqual(1);
    // The read at the position of the last events published answered: every event visible.
    expect(stdout).toMatch(
      /^\s+read at the last position published\s+p1\.\S+ \(\d+ partitions\): every event visible after \d+ ms; top 3: \S+ \d+/m,
    );
    // What ran is what `cdk deploy` ships, under AWS's runtime, which timed its cold starts and
    // invocations.
    expect(stdout).toMatch(
      /^\s+function: what ran\s+the deployed bundle \(index\.mjs of asset\.[0-9a-f]+…, [\d.]+ MB\) under AWS's Lambda Runtime Interface Emulator and Node\.js runtime client, Node 24$/m,
    );
    const [, inits, initMs] =
      /^\s+function inits \(INIT REPORT\): count, p50 \/ max\s+(\d+): ([\d.]+) ms \/ [\d.]+ ms$/m.exec(
        stdout,
      ) ?? [];
    // The leaderboard's and the wallet's, at least.
    expect(Number(inits)).toBeGreaterThanOrEqual(2);
    expect(Number(initMs)).toBeGreaterThan(0);
    const [, invocations] =
      /^\s+function invocations: Duration p50 \/ p99 \/ max \(REPORT\)\s+(\d+): /m.exec(stdout) ??
      [];
    expect(Number(invocations)).toBeGreaterThan(2);
    expect(stdout).toContain('OK: every event applied exactly once.');
    expect(code).toBe(0);
  }, 150_000);

  it('runs in the production shape by default, and says how each connection is secured', async () => {
    // Prepare: no servers named, so the demo starts its own: Kafka with MSK IAM over SASL_SSL,
    // Redis over TLS with an ACL user, the password in a local Secrets Manager.
    const tmp = privateTmp();
    // The default whatever the suites run in (SEQGUARD_PLAINTEXT=1 is the demo's variable too).
    const env = {
      KAFKA_BROKERS: undefined,
      REDIS_URL: undefined,
      SEQGUARD_PLAINTEXT: undefined,
      TMPDIR: tmp,
    };
    // Act
    const { code, stdout } = await demo(['--events', '600', '--players', '30'], env, 150_000);
    // Assess
    expect(stdout).toMatch(
      /^\s+kafka: producer, event source mapping, function\s+SASL_SSL with an MSK IAM token/m,
    );
    expect(stdout).toMatch(
      /^\s+redis: function, demo\s+TLS \(verified against the local CA\) as ACL user "seqguard" \(default user off\), its password read from the Secrets Manager API/m,
    );
    expect(stdout).toMatch(/^\s+LOST\s+0$/m);
    expect(stdout).toContain('OK: every event applied exactly once.');
    expect(code).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  }, 180_000);

  it('says so when it runs in plaintext, the fast path', async () => {
    const { code, stdout, stderr } = await demo([...small, '--plaintext'], {
      KAFKA_BROKERS: inject('kafkaPlaintextBootstrap'),
      REDIS_URL: undefined,
    });
    // The demo's own error, if it stopped, in the message.
    expect(stdout, stderr).toMatch(
      /^\s+redis: function, demo\s+plaintext, no authentication \(--plaintext\)$/m,
    );
    expect(code).toBe(0);
  }, 150_000);

  it('judges by the state, not by the delta stream, which is trimmed', async () => {
    // Prepare: a stream that keeps about 100 entries of 1,500 events applied or refused.
    const env = { ...suiteServers(), SEQGUARD_STREAM_MAX_LEN: '100' };
    // Act
    const { code, stdout } = await demo(small, env);
    // Assess
    expect(stdout).toMatch(/^\s+LOST\s+0$/m);
    const applied = Number(/^\s+events applied \(the guard's count\)\s+(\d+)$/m.exec(stdout)?.[1]);
    const [, refused, modelRefused] =
      /^\s+events refused by their mutation \(by the state\)\s+(\d+) \(model: (\d+)\)$/m.exec(
        stdout,
      ) ?? [];
    expect(refused).toBe(modelRefused);
    expect(applied + Number(refused)).toBe(1500);
    const kept = Number(/\((\d+) stream entries\)/.exec(stdout)?.[1]);
    expect(kept).toBeLessThan(1500);
    // The stream cannot speak for the wallet's figures any more, and says so.
    expect(stdout).toMatch(
      /^\s+transfers applied, model \/ Redis\s+\d+ \/ \? \(the stream keeps \d+ of 1500 entries\)$/m,
    );
    expect(code).toBe(0);
  }, 150_000);

  it('stops within 30 s with the function’s own error when its cold start fails', async () => {
    // Prepare: a configuration error, which the function finds at cold start.
    const tmp = privateTmp();
    const env = { ...suiteServers(), SEQGUARD_FORMAT: 'no-such-format', TMPDIR: tmp };
    // Act
    const { code, stderr, ms } = await demo(small, env, 60_000);
    // Assess
    expect(code).toBe(1);
    expect(ms).toBeLessThan(30_000);
    expect(stderr).toContain('the function could not start (ConfigError)');
    expect(stderr).toContain('SEQGUARD_FORMAT');
    expect(readdirSync(tmp)).toEqual([]);
  }, 90_000);

  it('says within seconds that Redis or Kafka cannot be reached', async () => {
    const redisDown = await demo(small, { ...suiteServers(), REDIS_URL: 'redis://127.0.0.1:1' });
    expect(redisDown.code).toBe(1);
    expect(redisDown.ms).toBeLessThan(15_000);
    expect(redisDown.stderr).toMatch(
      /cannot reach Redis at redis:\/\/127\.0\.0\.1:1.*ECONNREFUSED/,
    );

    const kafkaDown = await demo(small, { ...suiteServers(), KAFKA_BROKERS: '127.0.0.1:1' });
    expect(kafkaDown.code).toBe(1);
    expect(kafkaDown.ms).toBeLessThan(30_000);
    expect(kafkaDown.stderr).toMatch(/cannot create the demo topic on Kafka at 127\.0\.0\.1:1/);
  }, 90_000);

  it('names the package to install when redis-server is missing, and leaves no temp folder', async () => {
    // Prepare: a PATH without redis-server (openssl stays, for the local certificates), a
    // Kafka that is there.
    const tmp = privateTmp();
    const bin = join(tmp, 'bin');
    mkdirSync(bin);
    symlinkSync(
      execFileSync('sh', ['-c', 'command -v openssl']).toString().trim(),
      join(bin, 'openssl'),
    );
    const env = {
      KAFKA_BROKERS: inject('kafkaPlaintextBootstrap'),
      REDIS_URL: undefined,
      PATH: bin,
      TMPDIR: tmp,
    };
    // Act
    const { code, stderr, ms } = await demo(small, env, 60_000);
    // Assess
    expect(code).toBe(1);
    expect(ms).toBeLessThan(10_000);
    expect(stderr).toContain('redis-server is not on PATH');
    expect(stderr).toContain('apt-get install redis-server');
    expect(readdirSync(tmp)).toEqual(['bin']);
  }, 60_000);

  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`stops every server and process it started, and removes its temp folders, on ${signal}`, async () => {
      // Prepare: the demo starts its own redis-server, and (for SIGTERM) its own broker.
      const tmp = privateTmp();
      const env: Record<string, string | undefined> = {
        ...process.env,
        REDIS_URL: undefined,
        KAFKA_BROKERS: signal === 'SIGTERM' ? undefined : inject('kafkaPlaintextBootstrap'),
        TMPDIR: tmp,
      };
      const child: ChildProcess = spawn(
        process.execPath,
        ['local/demo/main.ts', '--events', '200000', '--rate', '2000'],
        { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      await vi.waitFor(
        () => {
          if (!/published \d+\//.test(stdout)) throw new Error('the demo has not published yet');
        },
        { timeout: 90_000, interval: 100 },
      );
      const redisPort = Number(
        /redis +rediss?:\/\/127\.0\.0\.1:(\d+) \(started here\)/.exec(stdout)?.[1],
      );
      const kafkaPort = Number(
        /kafka +(?:127\.0\.0\.1|localhost):(\d+) \(started here\)/.exec(stdout)?.[1],
      );
      // The leaderboard's function and the wallet's.
      const handlerPids = [...stdout.matchAll(/cold start done .*, process (\d+) \(the/g)].map(
        (m) => Number(m[1]),
      );
      expect(redisPort).toBeGreaterThan(0);
      expect(handlerPids).toHaveLength(2);
      expect(await canConnect(redisPort)).toBe(true);
      // Act
      child.kill(signal);
      const code = await exited;
      // Assess
      expect(code).toBe(signal === 'SIGTERM' ? 143 : 129);
      expect(await canConnect(redisPort)).toBe(false);
      if (signal === 'SIGTERM') expect(await canConnect(kafkaPort)).toBe(false);
      for (const pid of handlerPids) expect(isAlive(pid)).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
    }, 150_000);
  }
});
