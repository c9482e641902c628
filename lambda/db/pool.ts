/**
 * The one module that owns `pg`: the pool, its settings, and error classification.
 */
import pg from 'pg';
import type { DatabaseCredential } from './credentials';
import type { DatabaseConfig } from './database-config';

export type { Pool } from 'pg';

export interface PoolOptions {
  readonly database: DatabaseConfig;
  readonly queryTimeoutMs: number;
  /** The password of each new connection for `kind: 'secret'` and `kind: 'iam'` configs. */
  readonly credential?: DatabaseCredential;
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

type ConnectCallback = (
  error: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/**
 * A pool that, when the server refuses a new connection's credential (a rotated password, an
 * expired token), invalidates it and connects once more with a freshly fetched one. pg-pool's
 * own query() goes through connect(), so both paths retry.
 */
class CredentialPool extends pg.Pool {
  constructor(
    config: pg.PoolConfig,
    private readonly credential: DatabaseCredential | undefined,
  ) {
    super(config);
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    const connected = super.connect().catch((error: unknown) => {
      if (this.credential === undefined || !isAuthenticationError(error)) throw error;
      this.credential.invalidate();
      return super.connect();
    });
    if (callback === undefined) return connected;
    connected.then(
      (client) => callback(undefined, client, (release) => client.release(release as Error)),
      (error: Error) => callback(error, undefined, () => {}),
    );
    return undefined;
  }
}

/**
 * Creates a pool. Idle clients that die (e.g. while a Lambda container is frozen) are dropped;
 * a refused credential is fetched again once per new connection (see CredentialPool).
 */
export function createPool(options: PoolOptions): pg.Pool {
  const { database, credential } = options;
  const target: pg.PoolConfig =
    database.kind === 'url'
      ? { connectionString: database.url }
      : {
          host: database.host,
          port: database.port,
          database: database.database,
          user: database.user,
          password: credential && (() => credential.password()),
          ssl: ssl(database),
        };
  const pool = new CredentialPool(
    {
      ...target,
      max: options.max ?? 1,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 60_000,
      keepAlive: true,
      query_timeout: options.queryTimeoutMs,
      statement_timeout: options.queryTimeoutMs,
      application_name: 'login-queue',
      allowExitOnIdle: true,
    },
    credential,
  );
  return handleConnectionErrors(pool, options.onError);
}

/** A checked-out client's connection error: its holder's current or next query fails with it. */
const leftToHolder = () => {};

/**
 * Gives `pool` the 'error' listeners without which a connection the server ends (a restart,
 * a dropped database, an idle timeout) crashes the process: `onIdleError` for an idle client,
 * which the pool discards (by default nothing more: it connects anew when asked), and for a
 * client checked out with connect() one that leaves the error to the holder's queries.
 */
export function handleConnectionErrors(
  pool: pg.Pool,
  onIdleError: (error: Error) => void = () => {},
): pg.Pool {
  pool.on('error', onIdleError);
  pool.on('acquire', (client) => client.on('error', leftToHolder));
  pool.on('release', (_error, client) => client.off('error', leftToHolder));
  return pool;
}

/**
 * A client with an 'error' listener: a connection the server ends fails the client's current
 * or next query, where its user hears of it, instead of crashing the process.
 */
export function createClient(config: string | pg.ClientConfig): pg.Client {
  const client = new pg.Client(config);
  client.on('error', leftToHolder);
  return client;
}

/** Connects a client (see createClient), runs `task` with it and ends it, however `task` ends. */
export async function withClient<T>(
  config: string | pg.ClientConfig,
  task: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = createClient(config);
  await client.connect();
  try {
    return await task(client);
  } finally {
    await client.end();
  }
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
  // allowExitOnIdle unrefs idle clients' sockets: with nothing else pending, node would exit
  // (code 0) before their close completes, and the caller's next step would never run.
  const hold = setInterval(() => {}, 60_000);
  try {
    await pool.end();
    await closed;
  } finally {
    clearInterval(hold);
  }
}

/**
 * SQLSTATE of an error the server sent. Only pg's DatabaseError carries one: a Node socket
 * error has a `code` too (EPIPE, ECONNRESET), which is not a SQLSTATE.
 */
export function sqlState(error: unknown): string | undefined {
  if (!(error instanceof pg.DatabaseError)) return undefined;
  const { code } = error;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * True when the server refused the login (SQLSTATE class 28: 28P01 a wrong password, 28000
 * e.g. an IAM token RDS did not accept). A fresh credential may succeed.
 */
export function isAuthenticationError(error: unknown): boolean {
  return sqlState(error)?.startsWith('28') ?? false;
}

/**
 * True when the server refuses us for who we are or what we ask for, which waiting does not
 * cure: a missing grant (42501), rejected credentials (class 28), no such database (3D000)
 * or table (42P01, migrations not run).
 */
export function isConfigurationFault(error: unknown): boolean {
  const code = sqlState(error);
  return (
    code !== undefined &&
    (code === '42501' || code.startsWith('28') || code === '3D000' || code === '42P01')
  );
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
