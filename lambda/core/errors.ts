/**
 * The project's named errors, on one base (LoginQueueError): tell them apart with instanceof.
 * Two families matter to a record's fate:
 * - permanent: the message itself is bad; retrying cannot help (dead-letter it);
 * - transient: a dependency (database, Secrets Manager, SQS) failed; retry the batch.
 */

// Marks the prototype of every copy of LoginQueueError (Symbol.for: one symbol per process).
const BRAND = Symbol.for('login-queue.error');

/**
 * The base of the project's named errors. The local tools load the shipped bundles, each with
 * its own copy of these classes, into their own process; `instanceof` also recognises an
 * instance of another copy, by its brand and by its name (the class's name where the check is
 * written: the tools run from source, and a bundle only meets its own copy).
 */
export class LoginQueueError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: the class asked about, a subclass as often
    return isInstance(this, value);
  }
}

function isInstance(type: { readonly name: string }, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(type, value)) return true;
  if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
  return type === LoginQueueError || (value as { name?: unknown }).name === type.name;
}
Object.defineProperty(LoginQueueError.prototype, BRAND, { value: true });

/** Configuration is missing or malformed. Thrown at start-up, names the variable. */
export class ConfigError extends LoginQueueError {
  override readonly name = 'ConfigError';
}

/** A dependency failed in a way that a later retry can fix. */
export class TransientError extends LoginQueueError {
  override readonly name = 'TransientError';
}

/**
 * The masking secret could not be used (bad JSON, unknown key id, key too short).
 * Records are retried, not dropped: fixing the secret lets them through.
 * The message never contains key material.
 */
export class KeyRingError extends LoginQueueError {
  override readonly name = 'KeyRingError';
}

/** A message that can never be stored; `reason` is a machine-readable code. */
export class InvalidMessageError extends LoginQueueError {
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
export class UsageError extends LoginQueueError {
  override readonly name = 'UsageError';
}

/** A service (PostgreSQL, SQS, Secrets Manager) could not be reached or refused us; the message names it and its address. */
export class UnreachableError extends LoginQueueError {
  override readonly name = 'UnreachableError';
}

/** An operations request the function cannot run: bad JSON, unknown command, missing field. */
export class RequestError extends LoginQueueError {
  override readonly name = 'RequestError';
}

/**
 * An operations request whose caller is not proven to be an operator: no caller proof (a
 * direct Invoke), a proof refused, or an STS-verified caller (`caller`) who is not an operator.
 */
export class UnauthenticatedError extends LoginQueueError {
  override readonly name = 'UnauthenticatedError';
  constructor(
    message: string,
    readonly caller?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
