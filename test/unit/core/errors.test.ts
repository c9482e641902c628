import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  InvalidMessageError,
  KeyRingError,
  LoginQueueError,
  RequestError,
  TransientError,
  UnauthenticatedError,
  UnreachableError,
  UsageError,
} from '../../../lambda/core/errors';
import { RecoveryError } from '../../../lambda/core/recovery';

const named = [
  ConfigError,
  TransientError,
  KeyRingError,
  UsageError,
  UnreachableError,
  RequestError,
  UnauthenticatedError,
  RecoveryError,
];

/** Another copy of the classes, as a loaded bundle has: same brand, same names, other identity. */
function otherCopy(name: string): Error {
  class Base extends Error {}
  Object.defineProperty(Base.prototype, Symbol.for('login-queue.error'), { value: true });
  return Object.assign(new Base('from a bundle'), { name });
}

describe('the named errors', () => {
  it.each(named)('%o keeps its name and message and is a LoginQueueError', (type) => {
    const error = new type('what happened');
    expect(error.name).toBe(type.name);
    expect(error.message).toBe('what happened');
    expect(error).toBeInstanceOf(LoginQueueError);
    expect(error).toBeInstanceOf(Error);
  });

  it('keeps the reason of an invalid message', () => {
    const error = new InvalidMessageError('ip.invalid', 'ip is not an address');
    expect(error).toMatchObject({ name: 'InvalidMessageError', reason: 'ip.invalid' });
    expect(error).toBeInstanceOf(LoginQueueError);
  });

  it('tells one named error from another with instanceof', () => {
    expect(new ConfigError('x')).not.toBeInstanceOf(TransientError);
    expect(new KeyRingError('x')).not.toBeInstanceOf(ConfigError);
    expect(new Error('x')).not.toBeInstanceOf(LoginQueueError);
  });

  it('recognises an error of another copy of the classes (a loaded bundle) by its name', () => {
    expect(otherCopy('ConfigError')).toBeInstanceOf(ConfigError);
    expect(otherCopy('ConfigError')).toBeInstanceOf(LoginQueueError);
    expect(otherCopy('ConfigError')).not.toBeInstanceOf(TransientError);
  });

  it('never takes an unbranded error of the same name for one of ours', () => {
    const impostor = Object.assign(new Error('x'), { name: 'ConfigError' });
    expect(impostor).not.toBeInstanceOf(ConfigError);
    expect(impostor).not.toBeInstanceOf(LoginQueueError);
    expect(null).not.toBeInstanceOf(LoginQueueError);
  });
});
