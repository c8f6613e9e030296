/**
 * `npm run fuzz`: coverage-guided fuzzing of every target with Jazzer.js (docs/fuzzing.md).
 *
 * Each target runs in a child process of Jazzer.js's CLI (a crash or a hang ends that child, not
 * the run), for a time bound, from the checked-in seeds and regressions plus the corpus earlier
 * runs grew (.fuzz/corpus/<target>, ignored). The project's .ts files are instrumented
 * (typescript-loader.mjs says how). A redis-server of its own serves the guard's target.
 * Prints per target the executions per second and the coverage libFuzzer reached (`cov`: edges,
 * `ft`: features); exits 1 on any finding, with the input saved under .fuzz/findings/<target>/
 * and the command that reproduces it.
 *
 *   npm run fuzz                         every target, 60 s each
 *   npm run fuzz -- --quick              every target, 15 s each (CI)
 *   npm run fuzz -- --target int64 --seconds 300
 *   npm run fuzz -- --target int64 --reproduce .fuzz/findings/int64/crash-…
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { type RedisServer, startRedisServer } from '../../local/emulators/redis/server.ts';
import { UsageError } from '../errors.ts';
import { ensureFuzzerAddon } from './fuzzer-addon.ts';
import {
  type FuzzTarget,
  fuzzFolder,
  fuzzTargets,
  loadTarget,
  regressions,
  seedCorpus,
  workFolder,
} from './targets.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    target: { type: 'string', multiple: true },
    seconds: { type: 'string' },
    reproduce: { type: 'string' },
  },
});

const repoRoot = join(fuzzFolder, '..', '..');
const jazzerCli = createRequire(import.meta.url).resolve('@jazzer.js/core/dist/cli.js');

interface RunResult {
  target: string;
  finding: string | undefined;
  execsPerSecond: number | undefined;
  executions: number | undefined;
  cov: number | undefined;
  ft: number | undefined;
}

function selectedTargets(): FuzzTarget[] {
  const names = flags.target ?? fuzzTargets.map((t) => t.name);
  return names.map((name) => {
    const target = fuzzTargets.find((t) => t.name === name);
    if (target === undefined) {
      throw new UsageError(
        `no fuzz target "${name}"; they are: ${fuzzTargets.map((t) => t.name).join(', ')}`,
      );
    }
    return target;
  });
}

/** The last value libFuzzer printed for `name` (`cov: 123`, `stat::…: 123`). */
function lastNumber(output: string, pattern: RegExp): number | undefined {
  const matches = [...output.matchAll(pattern)];
  const last = matches.at(-1)?.[1];
  return last === undefined ? undefined : Number(last);
}

function statsOf(target: string, output: string, finding: string | undefined): RunResult {
  return {
    target,
    finding,
    // The final stats, or else the last status line (`#<runs> … exec/s: <n>`): a run whose end
    // was cut short after libFuzzer's DONE line has no final stats.
    execsPerSecond:
      lastNumber(output, /stat::average_exec_per_sec:\s+(\d+)/g) ??
      lastNumber(output, /^#\d+\s.*\bexec\/s: (\d+)/gm),
    executions:
      lastNumber(output, /stat::number_of_executed_units:\s+(\d+)/g) ??
      lastNumber(output, /^#(\d+)\s/gm),
    cov: lastNumber(output, /\bcov: (\d+)/g),
    ft: lastNumber(output, /\bft: (\d+)/g),
  };
}

function newestFinding(folder: string, before: ReadonlySet<string>): string | undefined {
  const found = readdirSync(folder).filter(
    (f) => /^(crash|timeout|oom|leak)-/.test(f) && !before.has(f),
  );
  return found.length === 0 ? undefined : join(folder, found.sort().at(-1) as string);
}

async function fuzzOne(target: FuzzTarget, seconds: number, redisUrl?: string): Promise<RunResult> {
  const corpus = join(workFolder, 'corpus', target.name);
  const findings = join(workFolder, 'findings', target.name);
  mkdirSync(corpus, { recursive: true });
  mkdirSync(findings, { recursive: true });
  mkdirSync(regressions(target.name), { recursive: true });
  const before = new Set(readdirSync(findings));
  const args = [
    '--import',
    join(fuzzFolder, 'typescript-loader.mjs'),
    jazzerCli,
    join(fuzzFolder, 'entry.mjs'),
    corpus,
    seedCorpus(target.name),
    regressions(target.name),
    '--includes',
    'core/',
    ...(target.async ? [] : ['--sync']),
    // The SSRF detector flags every TCP connection: the target's only one is its own Redis.
    ...(target.redis ? ['--disable_bug_detectors', 'ssrf'] : []),
    '--',
    `-max_total_time=${seconds}`,
    `-artifact_prefix=${findings}/`,
    '-print_final_stats=1',
    '-timeout=20',
  ];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: {
      ...process.env,
      SEQGUARD_FUZZ_TARGET: target.name,
      NODE_NO_WARNINGS: '1',
      ...(redisUrl === undefined ? {} : { SEQGUARD_FUZZ_REDIS_URL: redisUrl }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let done = false;
  const stop = () => child.kill('SIGKILL');
  // A target's open Redis connection keeps an async run's process alive after libFuzzer is done,
  // and an async run has been seen to stall in its end-of-run printing (a clean-clone CI run).
  const hung = setTimeout(stop, (seconds + 120) * 1000);
  const read = (chunk: Buffer) => {
    output += chunk.toString();
    // libFuzzer's loop ended (its DONE status line, or the driver's Done): with no finding the
    // run is over, whatever the process does next.
    if (!done && /^#\d+\s+DONE\b|^Done \d+ runs in/m.test(output)) {
      done = true;
      setTimeout(stop, 5_000).unref();
    }
  };
  child.stdout.on('data', read);
  child.stderr.on('data', read);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(hung);
  const finding = newestFinding(findings, before);
  const finished = code === 0 || (code === null && done);
  if (!finished || finding !== undefined) {
    // What the fuzzer said about the finding: the error and its stack, the input's bytes.
    console.log(
      output
        .split('\n')
        .filter((l) => !/^#\d+\s/.test(l))
        .slice(-40)
        .join('\n'),
    );
    return statsOf(target.name, output, finding ?? `failed, exit code ${code}, no input saved`);
  }
  return statsOf(target.name, output, undefined);
}

function report(results: readonly RunResult[], seconds: number): void {
  const show = (n: number | undefined) => (n === undefined ? '?' : String(n));
  console.log(`\nfuzz: ${seconds} s per target`);
  console.log('| target | exec/s | executions | cov | ft | finding |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const r of results) {
    const finding =
      r.finding === undefined
        ? 'none'
        : r.finding.startsWith('/')
          ? relative(repoRoot, r.finding)
          : r.finding;
    console.log(
      `| ${r.target} | ${show(r.execsPerSecond)} | ${show(r.executions)} | ${show(r.cov)} | ${show(r.ft)} | ${finding} |`,
    );
  }
  for (const r of results.filter((x) => x.finding?.startsWith('/'))) {
    console.log(
      `\nfuzz: ${r.target} found a failing input; reproduce it with\n  npm run fuzz -- --target ${r.target} --reproduce ${relative(repoRoot, r.finding as string)}\n` +
        `then fix it and copy the input to tools/fuzz/regressions/${r.target}/ (docs/fuzzing.md)`,
    );
  }
}

/** Runs one saved input through its target in this process, and prints what it throws. */
async function reproduce(file: string, targets: readonly FuzzTarget[]): Promise<number> {
  const [target] = targets;
  if (targets.length !== 1 || target === undefined) {
    throw new UsageError('--reproduce takes one --target');
  }
  const redis = target.redis ? await startRedisServer() : undefined;
  if (redis !== undefined) process.env.SEQGUARD_FUZZ_REDIS_URL = redis.url;
  try {
    await (await loadTarget(target.name))(readFileSync(file));
    console.log(`fuzz: ${target.name} passes ${file}`);
    return 0;
  } catch (error) {
    console.error(error);
    return 1;
  } finally {
    await redis?.dispose();
  }
}

async function main(): Promise<number> {
  const targets = selectedTargets();
  if (flags.reproduce !== undefined) {
    const code = await reproduce(flags.reproduce, targets);
    // The target's Redis client keeps the event loop alive.
    process.exit(code);
  }
  const seconds = Number(flags.seconds ?? (flags.quick ? 15 : 60));
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new UsageError(`--seconds takes a whole number of seconds, got ${flags.seconds}`);
  }
  ensureFuzzerAddon();
  let redis: RedisServer | undefined;
  const results: RunResult[] = [];
  try {
    for (const target of targets) {
      if (target.redis) redis ??= await startRedisServer();
      console.log(`fuzz: ${target.name} for ${seconds} s`);
      results.push(await fuzzOne(target, seconds, target.redis ? redis?.url : undefined));
    }
  } finally {
    await redis?.dispose();
  }
  report(results, seconds);
  return results.some((r) => r.finding !== undefined) ? 1 : 0;
}

process.exitCode = await main();
