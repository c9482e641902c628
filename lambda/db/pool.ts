/**
 * The one module that owns `pg`: the pool, its settings, and error classification.
 */
import pg from 'pg';
import type { DatabaseConfig } from '../config';

export type { Pool } from 'pg';

export interface PoolOptions {
  readonly database: DatabaseConfig;
  readonly queryTimeoutMs: number;
  /** Resolves the password for `kind: 'secret'` configs (called per new connection). */
  readonly password?: () => Promise<string>;
  /** Pool size; the handler uses 1: one connection per Lambda container. */
  readonly max?: number;
  readonly onError: (error: Error) => void;
}

function ssl(database: DatabaseConfig): pg.PoolConfig['ssl'] {
  if (database.kind === 'url' || database.ssl === 'disable') return undefined;
  if (database.ssl === 'require') return { rejectUnauthorized: false };
  // verify-full: the certificate chain and host name are checked against Node's trust store,
  // which NODE_EXTRA_CA_CERTS extends. The Lambda stack sets it to the runtime's
  // /var/runtime/ca-cert.pem, which holds the RDS CAs that Node 20+ runtimes do not load.
  return { rejectUnauthorized: true };
}

/** Creates a pool. Idle clients that die (e.g. while a Lambda container is frozen) are dropped. */
export function createPool(options: PoolOptions): pg.Pool {
  const { database } = options;
  const target: pg.PoolConfig =
    database.kind === 'url'
      ? { connectionString: database.url }
      : {
          host: database.host,
          port: database.port,
          database: database.database,
          user: database.user,
          password: options.password,
          ssl: ssl(database),
        };
  const pool = new pg.Pool({
    ...target,
    max: options.max ?? 1,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 60_000,
    keepAlive: true,
    query_timeout: options.queryTimeoutMs,
    statement_timeout: options.queryTimeoutMs,
    application_name: 'login-queue',
    allowExitOnIdle: true,
  });
  pool.on('error', options.onError);
  return pool;
}

/**
 * Ends the pool and resolves once every connection has closed: pool.end() resolves as soon
 * as its clients are told to end, so a server stopped right after could still drop them.
 */
export async function endPool(pool: pg.Pool): Promise<void> {
  const open = pool.totalCount;
  let removed = 0;
  const closed = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    pool.on('remove', () => {
      if (++removed >= open) resolve();
    });
  });
  await pool.end();
  await closed;
}

/** SQLSTATE of a PostgreSQL error, if the server sent one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * True when PostgreSQL rejected the data of a statement (class 22 data exception, class 23
 * integrity constraint violation): retrying the same rows cannot succeed, other rows may.
 */
export function isDataError(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * True when the connection, not the statement, failed: a socket error (no SQLSTATE), a
 * connection exception (08), or an administrator/crash shutdown (57P01-57P03). Such a
 * statement may be retried once on a fresh connection.
 */
export function isConnectionError(error: unknown): boolean {
  const code = sqlState(error);
  if (code === undefined) return !(error instanceof TypeError || error instanceof RangeError);
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
}
