/**
 * A throw-away database per test file, on the server the integration setup provides.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
  /** Number of rows in user_logins. */
  count(): Promise<number>;
  drop(): Promise<void>;
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(inject('adminDatabaseUrl'));
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `login_queue_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(inject('adminDatabaseUrl'));
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 3 });
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
      await pool.end();
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
