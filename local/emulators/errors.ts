/**
 * Errors of the local runtime (`local/`): one base class, a subclass per kind of failure, each
 * with a message that says what to install or set. The scenarios' own (the demo's, the soak's)
 * are in local/scenario/errors.ts.
 */
export class LocalRuntimeError extends Error {
  override name = 'LocalRuntimeError';
}

/** A tool the local runtime runs is missing or too old; the message names what to install. */
export class MissingPrerequisiteError extends LocalRuntimeError {
  override name = 'MissingPrerequisiteError';
}

export class KafkaBrokerError extends LocalRuntimeError {
  override name = 'KafkaBrokerError';
}

/** The port picked for the broker was taken by someone else before the broker could bind it. */
export class PortTakenError extends KafkaBrokerError {
  override name = 'PortTakenError';
}

export class RedisServerError extends LocalRuntimeError {
  override name = 'RedisServerError';
}

/**
 * The function's cold start failed (an import error, bad configuration, an unreadable secret):
 * every invocation would fail the same way, so the local runtime stops instead of retrying.
 */
export class FunctionInitError extends LocalRuntimeError {
  override name = 'FunctionInitError';
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

export class SecretsServerError extends LocalRuntimeError {
  override name = 'SecretsServerError';
}

export class LocalStackError extends LocalRuntimeError {
  override name = 'LocalStackError';
}

/** A command line of the local runtime was not understood; the message says what is wrong. */
export class UsageError extends LocalRuntimeError {
  override name = 'UsageError';
}
