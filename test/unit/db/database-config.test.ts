/**
 * Naming a database in a message: host, port and database, never user or password.
 */
import { describe, expect, it } from 'vitest';
import { databaseAddress } from '../../../lambda/db/database-config';

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
