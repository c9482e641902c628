/**
 * The project's named errors. Two families matter to a record's fate:
 * - permanent: the message itself is bad; retrying cannot help (dead-letter it);
 * - transient: a dependency (database, Secrets Manager, SQS) failed; retry the batch.
 */

/** Configuration is missing or malformed. Thrown at start-up, names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A dependency failed in a way that a later retry can fix. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

/**
 * The masking secret could not be used (bad JSON, unknown key id, key too short).
 * Records are retried, not dropped: fixing the secret lets them through.
 * The message never contains key material.
 */
export class KeyRingError extends Error {
  override readonly name = 'KeyRingError';
}

/** A message that can never be stored; `reason` is a machine-readable code. */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError';
  constructor(
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A command line the tool cannot run: unknown flag, missing argument, value out of range. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A service (PostgreSQL, SQS, Secrets Manager) could not be reached or refused us; the message names it and its address. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
}

/** An operations request the function cannot run: bad JSON, unknown command, missing field. */
export class RequestError extends Error {
  override readonly name = 'RequestError';
}

/**
 * An operations request whose caller is not proven to be an operator: no caller proof (a
 * direct Invoke), a proof refused, or an STS-verified caller (`caller`) who is not an operator.
 */
export class UnauthenticatedError extends Error {
  override readonly name = 'UnauthenticatedError';
  constructor(
    message: string,
    readonly caller?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
