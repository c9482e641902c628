/**
 * Migrating as a role that may not create in schema public: the error names the server, the
 * role and the grant that fixes it (never the password), and that grant does fix it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError } from '../../lambda/core/errors';
import { migrate } from '../../lambda/db/migrate';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

const role = `${inject('testRolePrefix')}nocreate_${randomBytes(3).toString('hex')}`;
const password = `pw-${randomBytes(6).toString('hex')}`;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  // PostgreSQL 15 and later revoke this by default; older servers grant it to everyone.
  await db.pool.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  await db.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  pool.on('error', () => {});
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('migrate as a role without CREATE on schema public', () => {
  it('fails with a ConfigError naming the server, the role and the grant, never the password', async () => {
    // Act
    const error = await migrate(pool).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // Assert
    const { hostname, port, pathname } = new URL(db.url);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toBe(
      `permission denied for schema public (PostgreSQL at ${hostname}:${port}${pathname}, as ${role}): ` +
        `the migrations create their tables in schema public: as its owner, run ` +
        `GRANT CREATE ON SCHEMA public TO ${role}; or migrate as the database's owner`,
    );
    expect(error?.message).not.toContain(password);
    expect(error?.cause).toMatchObject({ code: '42501' });
  });

  it('gets past schema public once the grant it names is given', async () => {
    // Arrange
    await db.pool.query(`GRANT CREATE ON SCHEMA public TO ${role}`);
    // Act
    const error = await migrate(pool).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // Assert: done, or stopped later for another reason (e.g. a role it may not grant).
    expect(error?.message ?? '').not.toContain('schema public');
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_tables WHERE tablename = $1',
      ['login_queue_migrations'],
    );
    expect(rows[0]?.n).toBe(1);
  });
});
