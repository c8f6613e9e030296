/**
 * LocalStack 4.14.0 without Docker: its runtime (PyPI `localstack-core`, pinned in
 * tools/python/localstack-requirements.txt, installed by `tools/python/venv.sh localstack` into
 * .tools/localstack-venv) in host mode, `python -m localstack.runtime.main`, on a free loopback
 * port, its files in a temp folder that goes with it. 4.14.0 is the last release that starts
 * without an auth token. What host mode can and cannot do (Lambda cannot run functions: that
 * needs Docker) is in docs/deploying.md, "LocalStack".
 *
 * It is started so that it reaches nothing outside the machine: no analytics events
 * (DISABLE_EVENTS), no download of a TLS certificate for its gateway (SKIP_SSL_CERT_DOWNLOAD), no
 * DNS server of its own and so no look-up of an upstream resolver (DNS_ADDRESS=0), and URLs it
 * hands out (SQS queue URLs) that name 127.0.0.1 rather than *.localhost.localstack.cloud, which
 * only resolves with public DNS. Configuration reference:
 * https://docs.localstack.cloud/references/configuration/
 *
 * `npx node local/emulators/localstack.ts` starts one and prints the exports a shell needs, until Ctrl-C.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stopChild } from './commands.ts';
import { LocalStackError, MissingPrerequisiteError } from './errors.ts';
import { guardAgainstOrphan } from './orphan-guard.ts';
import { freePort } from './ports.ts';

const execFileAsync = promisify(execFile);
const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export const LOCALSTACK_VERSION = '4.14.0';
/** LocalStack's default region and its account for any access key that is not 12 digits. */
export const LOCALSTACK_REGION = 'us-east-1';
export const LOCALSTACK_ACCOUNT = '000000000000';

export interface LocalStack {
  /** http://127.0.0.1:<port>: every service, one gateway. */
  readonly endpoint: string;
  /**
   * What an AWS SDK, the AWS CLI or `cdklocal` needs to talk to it instead of AWS: the endpoint
   * for every service (AWS_ENDPOINT_URL; S3 too, which cdklocal insists on: an IP address makes
   * the SDK use path-style bucket URLs), region and LocalStack's test credentials.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The last lines LocalStack logged, to explain a failure. */
  logTail(): string;
  /** Stops it (SIGTERM, then SIGKILL after 10 s) and removes its temp folder. */
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  /** Seconds to wait for /_localstack/health (default 120: the first start compiles Python). */
  startTimeoutSeconds?: number;
}

/** The LocalStack venv's bin folder, made or brought up to date by tools/python/venv.sh. */
async function localStackBin(): Promise<string> {
  try {
    const { stdout } = await execFileAsync(
      join(REPO_ROOT, 'tools', 'python', 'venv.sh'),
      ['localstack'],
      { timeout: 900_000 },
    );
    return stdout.trim();
  } catch (error) {
    throw new MissingPrerequisiteError(
      `tools/python/venv.sh localstack could not install LocalStack ${LOCALSTACK_VERSION} (Python 3.12+ with venv, and PyPI, are needed): ${(error as { stderr?: string }).stderr ?? (error as Error).message}`,
      { cause: error },
    );
  }
}

/** The environment LocalStack runs in: the caller's, less anything that would change it. */
function runtimeEnv(port: number, root: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Its own settings come only from here; AWS_* would point its internal clients elsewhere.
    if (/^(AWS_|LOCALSTACK_|GATEWAY_|DOCKER_|LAMBDA_|SERVICES$|DEBUG$|PERSISTENCE$)/.test(key))
      continue;
    env[key] = value;
  }
  return {
    ...env,
    GATEWAY_LISTEN: `127.0.0.1:${port}`,
    LOCALSTACK_HOST: `127.0.0.1:${port}`,
    // Queue URLs as http://127.0.0.1:<port>/queue/<region>/<account>/<name>.
    SQS_ENDPOINT_STRATEGY: 'path',
    // Host mode keeps its files (state, caches, its TLS certificate) under FILESYSTEM_ROOT.
    FILESYSTEM_ROOT: root,
    PERSISTENCE: '0',
    DISABLE_EVENTS: '1',
    SKIP_SSL_CERT_DOWNLOAD: '1',
    DNS_ADDRESS: '0',
    // Nothing here is a paid-tier feature; no token is sent, and 4.14.0 asks for none.
    ACTIVATE_PRO: '0',
  };
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const bin = await localStackBin();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const root = mkdtempSync(join(tmpdir(), 'seqguard-localstack-'));

  const child: ChildProcess = spawn(join(bin, 'python'), ['-m', 'localstack.runtime.main'], {
    cwd: root,
    env: runtimeEnv(port, root),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: string): void => {
    output.push(...chunk.trimEnd().split('\n'));
    output.splice(0, Math.max(0, output.length - 60));
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const logTail = (): string => output.join('\n');
  const releaseGuard = child.pid !== undefined ? guardAgainstOrphan(child, root) : () => {};
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new LocalStackError(`LocalStack could not be started: ${error.message}`)),
    );
    child.once('exit', (code, signal) =>
      reject(
        new LocalStackError(
          `LocalStack on port ${port} exited (${signal ?? `code ${code}`}):\n${logTail()}`,
        ),
      ),
    );
  });
  exited.catch(() => {});

  const stop = async (): Promise<void> => {
    // SIGTERM lets it stop its threads; a runtime that hangs on the way out is killed.
    await stopChild(child, 10_000);
    releaseGuard();
    rmSync(root, { recursive: true, force: true });
  };

  try {
    await Promise.race([waitForHealth(endpoint, options.startTimeoutSeconds ?? 120), exited]);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    endpoint,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: LOCALSTACK_REGION,
      AWS_DEFAULT_REGION: LOCALSTACK_REGION,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    },
    logTail,
    stop,
  };
}

/** Until /_localstack/health answers with LocalStack's version. */
async function waitForHealth(endpoint: string, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${endpoint}/_localstack/health`);
      const body = (await response.json()) as { version?: string };
      if (response.ok && body.version === LOCALSTACK_VERSION) return;
      last = `HTTP ${response.status}, version ${body.version}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  throw new LocalStackError(
    `LocalStack ${LOCALSTACK_VERSION} did not become healthy at ${endpoint} in ${timeoutSeconds} s (${last})`,
  );
}

if (import.meta.main) {
  const localStack = await startLocalStack();
  console.log(
    `# LocalStack ${LOCALSTACK_VERSION} (host mode) at ${localStack.endpoint}; Ctrl-C stops it`,
  );
  for (const [key, value] of Object.entries(localStack.env)) console.log(`export ${key}=${value}`);
  const shutdown = (): void => {
    void localStack.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
