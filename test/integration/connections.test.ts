/**
 * Connections the server ends (a test database dropped WITH (FORCE), a restart, an idle
 * timeout) are errors the code hears through its queries, never an unhandled 'error' event
 * that crashes the process (or fails a test run that had otherwise passed).
 */
import type pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createClient, createPool, endPool, withClient } from '../../lambda/db/pool';
import { asAdmin, createTestDatabase, type TestDatabase } from '../helpers/database';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

const nameOf = (db: TestDatabase) => new URL(db.url).pathname.slice(1);

/** Resolves once `pool` has removed `n` clients, i.e. their connections have closed. */
const removals = (pool: pg.Pool, n: number) =>
  new Promise<void>((resolve) => {
    let removed = 0;
    pool.on('remove', () => {
      if (++removed === n) resolve();
    });
  });

/** Gives `pool` three open connections, idle once this resolves. */
const openThree = (pool: pg.Pool) =>
  Promise.all([1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.05)')));

/** Ends, from the admin's session, every session in `db` but the admin's own. */
const terminateSessions = (db: TestDatabase) =>
  asAdmin(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${nameOf(db)}' AND pid <> pg_backend_pid()`,
  );

describe("the test helpers' pool", () => {
  it('survives the server ending its idle connections, and connects anew', async () => {
    // Arrange
    const db = await database();
    await openThree(db.pool);
    const gone = removals(db.pool, 3);
    // Act: what DROP DATABASE … WITH (FORCE) does to sessions still open.
    await terminateSessions(db);
    await gone;
    // Assert
    expect((await db.pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('is closed by drop() before the database is dropped: no connection is ended under it', async () => {
    // Arrange
    const db = await createTestDatabase();
    await openThree(db.pool);
    const errors: Error[] = [];
    db.pool.on('error', (error) => errors.push(error));
    const closed = removals(db.pool, 3);
    // Act
    await db.drop();
    await closed;
    // Assert
    expect(errors).toEqual([]);
    const { rows } = await withClient(inject('adminDatabaseUrl'), (admin) =>
      admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [nameOf(db)]),
    );
    expect(rows).toEqual([]);
  });
});

describe("the function's pool", () => {
  it('leaves a checked-out connection the server ends to its holder, whose next query fails', async () => {
    // Arrange
    const db = await database();
    const idleErrors: Error[] = [];
    const pool = createPool({
      database: { kind: 'url', url: db.url },
      queryTimeoutMs: 10_000,
      onError: (error) => idleErrors.push(error),
    });
    cleanups.push(() => endPool(pool));
    const client = await pool.connect();
    const ended = new Promise((resolve) => client.once('end', resolve));
    // Act
    await terminateSessions(db);
    await ended;
    // Assert: the holder hears of it; the pool connects anew for the next caller.
    await expect(client.query('SELECT 1')).rejects.toThrow(/not queryable|terminat/i);
    client.release(true);
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(idleErrors).toEqual([]);
  });

  it('reports an idle connection the server ends to onError, and connects anew', async () => {
    // Arrange
    const db = await database();
    const idleErrors: Error[] = [];
    const pool = createPool({
      database: { kind: 'url', url: db.url },
      queryTimeoutMs: 10_000,
      onError: (error) => idleErrors.push(error),
    });
    cleanups.push(() => endPool(pool));
    await pool.query('SELECT 1');
    const gone = removals(pool, 1);
    // Act
    await terminateSessions(db);
    await gone;
    // Assert
    expect(idleErrors.map((error) => (error as { code?: string }).code)).toEqual(['57P01']);
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});

describe('a client of createClient', () => {
  it('fails its next query when the server ends its connection, and ends cleanly', async () => {
    // Arrange
    const db = await database();
    const client = createClient(db.url);
    await client.connect();
    const ended = new Promise((resolve) => client.once('end', resolve));
    // Act
    await terminateSessions(db);
    await ended;
    // Assert
    await expect(client.query('SELECT 1')).rejects.toThrow(/not queryable|terminat/i);
    await client.end();
  });
});
