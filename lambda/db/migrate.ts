/**
 * Applies pending migrations under a session advisory lock, so concurrent runners (several
 * cold starts, a deploy-time trigger and a local run) apply each migration exactly once.
 */
import type { Client, Pool, PoolClient } from 'pg';
import { ConfigError } from '../core/errors';
import { MIGRATIONS, type Migration } from './migrations';
import { isAuthenticationError, sqlState } from './pool';

// pg_advisory_lock key: the first 8 bytes of sha256("login-queue/migrations"), as int8.
export const LOCK_KEY = '-3180596402358398718';

export interface MigrateResult {
  readonly applied: readonly number[];
  readonly current: number;
}

/**
 * A refused privilege (42501) as a ConfigError that says where, as whom, and what to grant:
 * pg's own text ("permission denied for schema public") names neither the server nor the role.
 */
function privilegeError(error: unknown, client: PoolClient): unknown {
  if (sqlState(error) !== '42501') return error;
  // Where the client connected, and as whom; never its password.
  const { host, port, database, user } = client as PoolClient & Client;
  const schema = /permission denied for schema (\w+)/.exec((error as Error).message)?.[1];
  const grant = schema
    ? `the migrations create their tables in schema ${schema}: as its owner, run GRANT CREATE ON SCHEMA ${schema} TO ${user}; or migrate as the database's owner`
    : 'migrate as the owner of the database and of user_logins';
  return new ConfigError(
    `${(error as Error).message} (PostgreSQL at ${host}:${port}/${database}, as ${user}): ${grant}`,
    { cause: error },
  );
}

/**
 * Applies every migration not yet recorded. Throws (after rollback) on the first failure;
 * a missing privilege as a ConfigError naming the server, the role and the grant.
 */
export async function migrate(
  pool: Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrateResult> {
  const client = await pool.connect();
  try {
    return await migrateOn(client, migrations);
  } catch (error) {
    throw privilegeError(error, client);
  } finally {
    // A failed unlock means a broken connection: destroying it releases the lock too.
    const unlockError = await client
      .query('SELECT pg_advisory_unlock($1::bigint)', [LOCK_KEY])
      .then(
        () => undefined,
        (error: Error) => error,
      );
    client.release(unlockError);
  }
}

async function migrateOn(
  client: PoolClient,
  migrations: readonly Migration[],
): Promise<MigrateResult> {
  await client.query('SELECT pg_advisory_lock($1::bigint)', [LOCK_KEY]);
  await client.query(`CREATE TABLE IF NOT EXISTS login_queue_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())`);
  const { rows } = await client.query<{ version: number }>(
    'SELECT version FROM login_queue_migrations',
  );
  const done = new Set(rows.map((row) => row.version));
  const applied: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(migration.version)) continue;
    await client.query('BEGIN');
    try {
      await client.query(migration.sql);
      await client.query('INSERT INTO login_queue_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
    applied.push(migration.version);
  }
  return { applied, current: Math.max(0, ...done, ...applied) };
}

export interface LoginRetry {
  /** Tries in all, the first included. */
  readonly attempts: number;
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRetry?: (attempt: number, delayMs: number, error: unknown) => void;
}

/**
 * Runs `run` again while it fails because the server refused the login, waiting firstDelayMs,
 * then twice as long each time (at most maxDelayMs), `attempts` tries in all; rethrows the
 * last error, or at once any other error. A rotating secret changes the password in the
 * database before the new one becomes the secret's current version: a read in between fails.
 */
export async function retryRefusedLogin<T>(run: () => Promise<T>, retry: LoginRetry): Promise<T> {
  const sleep = retry.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= retry.attempts || !isAuthenticationError(error)) throw error;
      const delayMs = Math.min(retry.maxDelayMs, retry.firstDelayMs * 2 ** (attempt - 1));
      retry.onRetry?.(attempt, delayMs, error);
      await sleep(delayMs);
    }
  }
}
