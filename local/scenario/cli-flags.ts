/**
 * The command lines of the scenarios (the demo, the soak): each declares its own parseArgs
 * options (the docs-commands test reads them there); what they share is how a flag is checked
 * and what --help and --plaintext do.
 */
import { plaintextRequested } from '../emulators/security-mode.ts';

/** Prints `usage` and exits 0 when --help was given. */
export function exitOnHelp(help: boolean | undefined, usage: string): void {
  if (!help) return;
  console.log(usage);
  process.exit(0);
}

/**
 * The number flag `name` of `flags`, or `fallback` when it was not given; exits 2 with the reason
 * when it is not a number from `min` to `max`.
 */
export function numberFlag<Flags extends Record<string, unknown>>(
  flags: Flags,
  name: keyof Flags & string,
  { min, max, fallback }: { min: number; max: number; fallback?: number },
): number {
  const raw = flags[name] as string | undefined;
  const value = raw === undefined && fallback !== undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    console.error(`--${name} must be a number from ${min} to ${max}, got ${raw}`);
    process.exit(2);
  }
  return value;
}

/**
 * Production's security shape unless --plaintext (or SEQGUARD_PLAINTEXT=1) asks for the fast
 * path: Kafka over SASL_SSL with MSK IAM tokens the broker checks, Redis over TLS as an ACL user
 * whose password the function reads from the Secrets Manager API, as in AWS.
 */
export function secureRequested(plaintextFlag: boolean | undefined): boolean {
  return !plaintextFlag && !plaintextRequested();
}
