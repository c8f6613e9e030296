/**
 * The local runtime's child processes: running a command (java, javac, mvn, Kafka's tools, go,
 * npm) and reading its output, one child process each, killed on timeout, its output kept in
 * full; and stopping a long-running one (a server, an emulator, a sandbox) as a service manager
 * would: SIGTERM, then SIGKILL if it hangs.
 */
import { type ChildProcess, spawn } from 'node:child_process';

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

/**
 * Stops `child`: SIGTERM lets it shut down cleanly, SIGKILL follows after `graceMs` if it has not
 * exited. Resolves once it has exited (at once if it had).
 */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
