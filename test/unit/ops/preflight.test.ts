/**
 * Naming what failed: database addresses without passwords, reasons that are never empty.
 */
import { describe, expect, it } from 'vitest';
import { databaseAddress, reasonOf } from '../../../lambda/ops/preflight';

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

describe('reasonOf', () => {
  it('uses the message, else the code, else the name, else the first of an AggregateError', () => {
    expect(reasonOf(new Error('boom'))).toBe('boom');
    expect(reasonOf(Object.assign(new Error(''), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(reasonOf(new AggregateError([new Error('connect ECONNREFUSED ::1:5432')], ''))).toBe(
      'connect ECONNREFUSED ::1:5432',
    );
  });
});
