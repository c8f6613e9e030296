/**
 * Errors of the operator tools (tools/). What they do in Redis and Kafka fails with the library's
 * own errors (core/errors.ts), since they run the same code; their base class is the
 * same, and what is the tools' own is here.
 */
import { SeqguardError } from '../core/index.ts';

/** The command line was not understood: the CLI prints the message and its usage, and exits 2. */
export class UsageError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/**
 * The update-safety check (tools/update-safety/) cannot run: cfn-lint's schemas are not
 * installed, or the page lacks the table's markers. The message names what to do.
 */
export class UpdateSafetyError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UpdateSafetyError';
  }
}

/**
 * `doctor` could not start its checks: no credentials, a stack that does not exist, an API it
 * may not call. The CLI prints the message and exits 1.
 */
export class DoctorError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DoctorError';
  }
}

/**
 * The fuzzer cannot start (tools/fuzz/): its native addon does not load and cannot be patched
 * to, or a server a target needs does not start. The message names what is missing.
 */
export class FuzzSetupError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FuzzSetupError';
  }
}

/**
 * A fuzz target's property does not hold for an input (tools/fuzz/targets/): the message says
 * which property, with what was expected and what came instead.
 */
export class FuzzFindingError extends SeqguardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FuzzFindingError';
  }
}
