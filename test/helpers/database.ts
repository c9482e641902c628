/**
 * A throw-away database per test file, on the server the integration setup provides.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { endPool, handleConnectionErrors, withClient } from '../../lambda/db/pool';

export interface TestDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
  /** Number of rows in user_logins. */
  count(): Promise<number>;
  /** Closes `pool`'s connections, then drops the database (and any session still in it). */
  drop(): Promise<void>;
}

/** Runs `sql` as the server's admin user. */
export const asAdmin = (sql: string) =>
  withClient(inject('adminDatabaseUrl'), async (client) => {
    await client.query(sql);
  });

/**
 * A pool for tests: a connection the server ends while idle is replaced, never an unhandled
 * 'error' that fails the run; one ended under a query fails that query.
 */
export const testPool = (config: pg.PoolConfig): pg.Pool =>
  handleConnectionErrors(new pg.Pool(config));

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `login_queue_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await asAdmin(`CREATE DATABASE ${name}`);
  const url = new URL(inject('adminDatabaseUrl'));
  url.pathname = `/${name}`;
  const pool = testPool({ connectionString: url.toString(), max: 3 });
  return {
    url: url.toString(),
    pool,
    async count() {
      const { rows } = await pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM user_logins',
      );
      return rows[0]?.n ?? 0;
    },
    async drop() {
      // pool.end() resolves before its connections have closed; a FORCE drop would end them
      // under it. FORCE is for sessions a test left open elsewhere (their pools listen).
      await endPool(pool);
      await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * Whether the server refuses a wrong password. A server that trusts every local connection
 * (a developer's `trust` pg_hba.conf, given through DATABASE_URL) cannot show a refused one.
 */
export async function serverChecksPasswords(): Promise<boolean> {
  const url = new URL(inject('adminDatabaseUrl'));
  url.password = `wrong-${randomUUID()}`;
  try {
    await withClient(url.toString(), async () => {});
    return false;
  } catch {
    return true;
  }
}
