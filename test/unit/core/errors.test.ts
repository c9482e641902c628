import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SendFailedError } from '../../../lambda/cli/send-batches';
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
import { OutageError } from '../../../lambda/local/breaker';
import { SqsUnreachableError } from '../../../lambda/local/retry';

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

  it("stands the tools' errors on the same base, with their names and messages", () => {
    // Arrange
    const outage = { service: 'PostgreSQL at 127.0.0.1:5432', reason: 'ECONNREFUSED', since: 0 };
    const errors = [
      new SendFailedError(10, 10, 'batch 2 not sent'),
      new SqsUnreachableError('SQS at http://127.0.0.1:4566 did not answer'),
      new OutageError(outage, 30, 30_000),
    ];
    // Act / Assert
    expect(errors.map((error) => [error.name, error.message])).toEqual([
      ['SendFailedError', 'batch 2 not sent'],
      ['SqsUnreachableError', 'SQS at http://127.0.0.1:4566 did not answer'],
      ['OutageError', 'PostgreSQL at 127.0.0.1:5432 did not answer for 30 s: ECONNREFUSED'],
    ]);
    for (const error of errors) expect(error).toBeInstanceOf(LoginQueueError);
  });

  it('is the one error class of lambda/ that extends Error itself', () => {
    // Arrange: every TypeScript file under lambda/.
    const root = join(__dirname, '../../../lambda');
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((file) =>
      file.endsWith('.ts'),
    );
    // Act
    const direct = files.filter((file) =>
      /class \w+ extends Error\b/.test(readFileSync(join(root, file), 'utf8')),
    );
    // Assert
    expect(direct).toEqual([join('core', 'errors.ts')]);
  });
});
