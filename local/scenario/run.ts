/**
 * How a scenario (the demo, the soak) runs as a process:
 * - everything it starts goes on one AsyncDisposableStack, disposed once, in reverse order, on
 *   every way out (the end, an error, Ctrl-C, SIGTERM, SIGHUP, an error no step caught);
 * - its errors explained with their causes, and deadlines for the steps that wait on a server.
 */
import { LocalRuntimeError } from '../emulators/errors.ts';

const signalCodes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/**
 * Calls `dispose` on Ctrl-C, SIGTERM and SIGHUP (then exit 128 + signal) and on an error no step
 * caught (then exit 1). Returns whether a signal came, for the caller's own error handling.
 */
function disposeOnExit(name: string, dispose: () => Promise<void>): { interrupted(): boolean } {
  let interrupted = false;
  for (const [signal, code] of Object.entries(signalCodes)) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`\n${signal}: stopping everything the ${name} started`);
      void dispose().then(() => process.exit(code));
    });
  }
  // An error no step caught (a client's, on a timer) still stops what the run started.
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    process.once(event, (error) => {
      console.error(`${name} failed: ${(error as Error)?.stack ?? error}`);
      void dispose().then(() => process.exit(1));
    });
  }
  return { interrupted: () => interrupted };
}

/**
 * Runs a command's `main()` as the process: its exit code, then disposes `resources`, where
 * main put everything it started. Ctrl-C, SIGTERM and SIGHUP dispose them too; after one, the
 * clients close under the running steps and their errors are expected, so none is printed. Any
 * other error ends the run with exit 1: the local runtime's own errors by name and message (they
 * explain themselves), anything else with its stack.
 */
export async function runMain(
  name: string,
  resources: AsyncDisposableStack,
  main: () => Promise<number>,
): Promise<void> {
  // One disposal, whichever way out comes first: a later one waits for it rather than exiting
  // half way. A resource that fails to stop is passed over; the others must still stop.
  let disposal: Promise<void> | undefined;
  const disposeAll = () => {
    disposal ??= resources.disposeAsync().catch(() => {});
    return disposal;
  };
  const exit = disposeOnExit(name, disposeAll);
  try {
    process.exitCode = await main();
  } catch (error) {
    if (!exit.interrupted()) {
      const known = error instanceof LocalRuntimeError;
      console.error(
        `\n${name} failed: ${known ? `${(error as Error).name}: ${(error as Error).message}` : ((error as Error).stack ?? error)}`,
      );
    }
    process.exitCode = exit.interrupted() ? process.exitCode : 1;
  } finally {
    if (!exit.interrupted()) await disposeAll();
  }
}

/** An error's message with its causes, e.g. `Creating topics failed: … ECONNREFUSED …`. */
export function explain(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current) && parts.length < 4) {
    seen.add(current);
    const message = current.message.replace(/\.$/, '');
    if (!parts.includes(message)) parts.push(message);
    const nested = (current as { errors?: unknown[] }).errors;
    current = current.cause ?? (Array.isArray(nested) ? nested[0] : undefined);
  }
  return parts.join(': ');
}

/** Rejects after `ms` with `toError(message)`, unless `work` settles first. */
export async function within<T>(
  ms: number,
  message: string,
  work: Promise<T>,
  toError: (message: string) => Error = (m) => new LocalRuntimeError(m),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(toError(message)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
