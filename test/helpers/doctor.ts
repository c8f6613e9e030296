/**
 * `npm run seqguard -- doctor` run as an operator runs it: the CLI in a child process, pointed at
 * a local AWS API (AWS_ENDPOINT_URL, the SDK's endpoint variable for every service) with fixed
 * test credentials, its --json report parsed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { DoctorReport } from '../../tools/doctor/doctor.ts';
import type { CheckId, CheckResult } from '../../tools/doctor/model.ts';
import { repoRoot } from './repo-root.ts';

const execFileAsync = promisify(execFile);

export interface DoctorRun {
  exitCode: number;
  report: DoctorReport | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Without `credentials`, the process finds none: no key variables, and the shared config and
 * credentials files point at files that do not exist.
 */
export async function runDoctorCli(
  endpoint: string,
  args: readonly string[],
  { region = 'us-east-1', credentials = true }: { region?: string; credentials?: boolean } = {},
): Promise<DoctorRun> {
  const env = {
    PATH: process.env.PATH,
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: region,
    ...(credentials
      ? { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }
      : {
          AWS_CONFIG_FILE: '/nonexistent/aws-config',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
        }),
  };
  const argv = ['tools/seqguard.ts', 'doctor', ...args];
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, argv, {
      cwd: repoRoot,
      env,
      timeout: 60_000,
    });
    return { exitCode: 0, report: parse(stdout, args), stdout, stderr };
  } catch (error) {
    const {
      code,
      stdout = '',
      stderr = '',
    } = error as {
      code?: number;
      stdout?: string;
      stderr?: string;
    };
    return { exitCode: code ?? -1, report: parse(stdout, args), stdout, stderr };
  }
}

function parse(stdout: string, args: readonly string[]): DoctorReport | undefined {
  if (!args.includes('--json') || stdout.trim() === '') return undefined;
  return JSON.parse(stdout) as DoctorReport;
}

/** The result of one check; throws when the report has none. */
export function checkOf(report: DoctorReport | undefined, id: CheckId): CheckResult {
  const check = report?.checks.find((c) => c.id === id);
  if (check === undefined) throw new Error(`no ${id} in ${JSON.stringify(report)}`);
  return check;
}
