/**
 * Command-line flags: database URL flags checked without repeating them, and named by where
 * they came from.
 */
import { describe, expect, it } from 'vitest';
import { databaseUrlFlag, flagSource } from '../../../lambda/cli/flags';
import { UsageError } from '../../../lambda/core/errors';

describe('databaseUrlFlag', () => {
  it('passes postgres URLs and absent values through', () => {
    expect(databaseUrlFlag('postgresql://h/d')).toBe('postgresql://h/d');
    expect(databaseUrlFlag(undefined)).toBeUndefined();
    expect(databaseUrlFlag('')).toBeUndefined();
  });

  it.each(['notaurl', 'http://h/d', 'postgres://:pw@/d'])(
    'refuses %s without repeating it',
    (raw) => {
      expect(() => databaseUrlFlag(raw)).toThrow(UsageError);
      expect(() => databaseUrlFlag(raw)).not.toThrow(raw);
    },
  );
});

describe('flagSource', () => {
  it('names the flag when the command line gives it, in either form, else the variable', () => {
    const argv = (...args: string[]) => ['node', 'cli.ts', ...args];
    expect(flagSource('database-url', 'DATABASE_URL', argv('--database-url', 'x'))).toBe(
      '--database-url',
    );
    expect(flagSource('database-url', 'DATABASE_URL', argv('--database-url=x'))).toBe(
      '--database-url',
    );
    expect(flagSource('database-url', 'DATABASE_URL', argv('--database-url-x'))).toBe(
      'DATABASE_URL',
    );
    expect(flagSource('database-url', 'DATABASE_URL', argv())).toBe('DATABASE_URL');
  });

  it('is the name a malformed database URL is refused under', () => {
    expect(() => databaseUrlFlag('notaurl', 'DATABASE_URL')).toThrow(
      /^DATABASE_URL must be a URL like postgres:/,
    );
  });
});
