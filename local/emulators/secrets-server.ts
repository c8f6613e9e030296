/**
 * A local Secrets Manager API: moto's server (PyPI `moto[server]`, pinned in
 * tools/python/requirements.txt, installed by tools/python/venv.sh into .tools/venv) on a free loopback
 * port. The functions read the Redis password from it through the real AWS SDK call, as they do
 * in AWS: the SDK is pointed at it by AWS_ENDPOINT_URL_SECRETS_MANAGER, the service-specific
 * endpoint variable (AWS SDKs and Tools reference guide, "Service-specific endpoints",
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html), with fixed local
 * credentials that moto accepts without checking. The server keeps everything in memory and
 * dies with the Node process that started it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { RedisCredentials } from '../../core/index.ts';
import { MissingPrerequisiteError, SecretsServerError } from './errors.ts';
import { guardAgainstOrphan } from './orphan-guard.ts';
import { canConnect, freePort } from './ports.ts';

const execFileAsync = promisify(execFile);
const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** Any region works: secrets are kept per region, and the ARN names the one to ask. */
const REGION = 'us-east-1';

export interface SecretsServer {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  /**
   * What an AWS SDK client (a function's cold start, the CLI) needs to call this server instead
   * of AWS: the endpoint, a region and fixed local credentials.
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Creates a secret holding Redis credentials in the JSON the CDK stack generates (read by
   * `parseRedisCredentials()`), and returns its ARN: SEQGUARD_REDIS_AUTH_SECRET_ARN.
   */
  createRedisAuthSecret(credentials: RedisCredentials): Promise<string>;
  /** Stops the server; its secrets are gone. */
  stop(): Promise<void>;
}

/** The venv's bin folder, made or brought up to date by tools/python/venv.sh. */
async function pythonTools(): Promise<string> {
  try {
    const { stdout } = await execFileAsync(join(REPO_ROOT, 'tools', 'python', 'venv.sh'), {
      timeout: 600_000,
    });
    return stdout.trim();
  } catch (error) {
    throw new MissingPrerequisiteError(
      `tools/python/venv.sh could not install moto's server (python3 with venv and PyPI are needed): ${(error as { stderr?: string }).stderr ?? (error as Error).message}`,
      { cause: error },
    );
  }
}

export async function startSecretsServer(): Promise<SecretsServer> {
  const bin = await pythonTools();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
    AWS_REGION: REGION,
    // Fixed, obviously fake local credentials: requests must be signed, moto does not check.
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  };

  const child: ChildProcess = spawn(
    join(bin, 'moto_server'),
    ['--host', '127.0.0.1', '--port', String(port)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // The last lines it wrote (it logs every request), for the error if it stops on its own.
  const output: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output.push(...chunk.trimEnd().split('\n'));
    output.splice(0, Math.max(0, output.length - 20));
  });
  const releaseGuard = child.pid !== undefined ? guardAgainstOrphan(child, undefined) : () => {};
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new SecretsServerError(`moto_server could not be started: ${error.message}`)),
    );
    child.once('exit', (code, signal) =>
      reject(
        new SecretsServerError(
          `moto_server on port ${port} exited (${signal ?? `code ${code}`}):\n${output.join('\n')}`,
        ),
      ),
    );
  });
  exited.catch(() => {});

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolveExit) => child.once('exit', resolveExit));
      child.kill('SIGKILL');
      await gone;
    }
    releaseGuard();
  };

  try {
    const deadline = Date.now() + 60_000;
    await Promise.race([
      (async () => {
        while (!(await canConnect(port))) {
          if (Date.now() > deadline)
            throw new SecretsServerError(`timed out waiting for moto_server on port ${port}`);
          await sleep(100);
        }
      })(),
      exited,
    ]);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    endpoint,
    env,
    createRedisAuthSecret: (credentials) => createRedisAuthSecret(env, credentials),
    stop,
  };
}

/**
 * Creates a secret holding Redis credentials on the local Secrets Manager that `env` (a
 * `SecretsServer`'s) points at, from any process: a test worker reaches the suite's server this
 * way. Returns its ARN.
 */
export async function createRedisAuthSecret(
  env: Readonly<Record<string, string>>,
  credentials: RedisCredentials,
): Promise<string> {
  const { SecretsManagerClient, CreateSecretCommand } = await import(
    '@aws-sdk/client-secrets-manager'
  );
  const client = new SecretsManagerClient({
    endpoint: env.AWS_ENDPOINT_URL_SECRETS_MANAGER as string,
    region: env.AWS_REGION as string,
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY as string,
    },
  });
  try {
    const { ARN } = await client.send(
      new CreateSecretCommand({
        Name: `seqguard/redis-${randomBytes(4).toString('hex')}`,
        SecretString: JSON.stringify(credentials),
      }),
    );
    if (ARN === undefined) throw new SecretsServerError('CreateSecret returned no ARN');
    return ARN;
  } finally {
    client.destroy();
  }
}
