/**
 * Errors of the local runtime (`local/`): one base class, a subclass per kind of failure, each
 * with a message that says what to install or set. The scenarios' own (the demo's, the soak's)
 * are in local/scenario/errors.ts.
 */
export class LocalRuntimeError extends Error {
  /** Each subclass's own name, as its class is called (local/ is never minified). */
  override get name(): string {
    return this.constructor.name;
  }
}

/** A tool the local runtime runs is missing or too old; the message names what to install. */
export class MissingPrerequisiteError extends LocalRuntimeError {}

export class KafkaBrokerError extends LocalRuntimeError {}

/** The port picked for the broker was taken by someone else before the broker could bind it. */
export class PortTakenError extends KafkaBrokerError {}

export class RedisServerError extends LocalRuntimeError {}

/**
 * The function's cold start failed (an import error, bad configuration, an unreadable secret):
 * every invocation would fail the same way, so the local runtime stops instead of retrying.
 */
export class FunctionInitError extends LocalRuntimeError {
  readonly errorType: string;
  readonly errorMessage: string;

  constructor(errorType: string, errorMessage: string, output = '') {
    super(
      `the function could not start (${errorType}): ${errorMessage}${output ? `\n--- its output ---\n${output}` : ''}`,
    );
    this.errorType = errorType;
    this.errorMessage = errorMessage;
  }
}

export class SecretsServerError extends LocalRuntimeError {}

export class LocalStackError extends LocalRuntimeError {}

/** A command line of the local runtime was not understood; the message says what is wrong. */
export class UsageError extends LocalRuntimeError {}
