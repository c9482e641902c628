/**
 * Naming what failed: database addresses without passwords, URL flags checked, reasons that
 * are never empty.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../lambda/core/errors';
import {
  databaseAddress,
  databaseUrlFlag,
  flagSource,
  reasonOf,
} from '../../../lambda/ops/preflight';

describe('databaseAddress', () => {
  it('names host, port and database, never user or password', () => {
    expect(databaseAddress({ kind: 'url', url: 'postgres://u:pw@db.local/logins' })).toBe(
      'db.local:5432/logins',
    );
    const secret = {
      kind: 'secret',
      host: 'rds',
      port: 6432,
      database: 'd',
      user: 'u',
      passwordSecretId: 'arn',
      ssl: 'verify-full',
    } as const;
    expect(databaseAddress(secret)).toBe('rds:6432/d');
  });
});

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

describe('reasonOf', () => {
  it('uses the message, else the code, else the name, else the first of an AggregateError', () => {
    expect(reasonOf(new Error('boom'))).toBe('boom');
    expect(reasonOf(Object.assign(new Error(''), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(reasonOf(new AggregateError([new Error('connect ECONNREFUSED ::1:5432')], ''))).toBe(
      'connect ECONNREFUSED ::1:5432',
    );
  });
});
