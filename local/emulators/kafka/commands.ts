/**
 * Running the commands the local broker needs (java, javac, mvn, Kafka's tools) and reading their
 * output: one child process each, killed on timeout, its output kept in full.
 */
import { spawn } from 'node:child_process';

const LOG_TAIL_LINES = 40;

export interface CommandResult {
  /** null when the command was killed, e.g. on timeout. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCommand(
  command: string,
  args: readonly string[],
  options: {
    input?: string | undefined;
    timeoutMs: number;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
  },
): Promise<CommandResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      timeout: options.timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    // A command may exit without reading its input; that is its business, not an error here.
    child.stdin.on('error', () => {});
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** The last lines of a command's output or a log, for an error message. */
export function tailLines(text: string, count = LOG_TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
