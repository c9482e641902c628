/**
 * Writes masked login rows, one SQL statement per batch, idempotent on the SQS message id.
 *
 * Fast path: one `COPY user_logins … FROM STDIN`, streamed while the rows are still being
 * masked, so our CPU work overlaps PostgreSQL's. COPY is atomic, and the unique index on
 * (message_id, create_date) makes a redelivered message fail it whole (23505): nothing is ever
 * written twice. On that, or any other data error, the rows go through the slow path: one
 * `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`, which skips the redeliveries (no
 * conflict target: it matches the unique index before and after migration 4 partitioned the
 * table) and returns the ids it wrote (the writer may SELECT message_id and nothing else), so
 * every row is known written or already there; rows PostgreSQL still rejects are isolated by
 * bisection so they never fail their neighbours. The COPY path is unchanged by this: a COPY
 * that went through wrote every row. Connection failures are retried once on a fresh
 * connection, then surface as TransientError (the caller retries the batch; the unique index
 * makes that safe), or as ConfigError when the server refuses the role, its grants or the schema.
 */
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ConfigError, TransientError } from '../core/errors';
import type { LoginRow } from '../core/rows';
import { isConfigurationFault, isConnectionError, isDataError, sqlState } from './pool';

export type { LoginRow } from '../core/rows';

export interface RejectedRow {
  readonly messageId: string;
  /** SQLSTATE, e.g. 23514 for a CHECK violation. */
  readonly sqlState: string;
  readonly constraint: string | undefined;
}

export interface InsertResult {
  /** Rows taken from the iterable (all of them, or the call throws). */
  readonly rows: number;
  /** Rows written now. */
  readonly inserted: number;
  /**
   * Message ids of the rows that were already there (redeliveries), once per such row. Empty
   * when the COPY went through: it is atomic, so then every row was new.
   */
  readonly existing: readonly string[];
  readonly rejected: readonly RejectedRow[];
  /** Write statements sent: 1 on the fast path. */
  readonly statements: number;
}

export interface LoginStore {
  /**
   * Writes the rows, consuming the iterable once (lazily: rows may be produced while the
   * first ones are already on the wire). Throws TransientError when the database cannot be
   * reached, ConfigError when it refuses the role, a grant or the schema.
   */
  insert(rows: Iterable<LoginRow>): Promise<InsertResult>;
}

const COLUMNS =
  'message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date, key_id, recovery_key_id, pii_sealed';

const COPY = `COPY user_logins (${COLUMNS}) FROM STDIN`;

const INSERT = {
  name: 'login-queue.insert-user-logins',
  text: `INSERT INTO user_logins (${COLUMNS})
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
           $6::text[], $7::int4[], $8::text[], $9::date[], $10::text[], $11::text[], $12::bytea[])
         ON CONFLICT DO NOTHING
         RETURNING message_id`,
};

// COPY text format: backslash, tab, newline and carriage return must be escaped.
const SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};
const field = (value: string) =>
  SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c] ?? c) : value;

function copyLine(row: LoginRow): string {
  return `${field(row.messageId)}\t${field(row.userId)}\t${field(row.deviceType)}\t${row.maskedIp}\t${
    row.maskedDeviceId
  }\t${row.locale === null ? '\\N' : field(row.locale)}\t${row.appVersion}\t${row.appVersionRaw}\t${
    row.createDate
  }\t${row.keyId}\t${row.recoveryKeyId ?? '\\N'}\t${row.sealed === null ? '\\N' : `\\\\x${row.sealed.toString('hex')}`}\n`;
}

function columns(rows: readonly LoginRow[]): unknown[] {
  return [
    rows.map((row) => row.messageId),
    rows.map((row) => row.userId),
    rows.map((row) => row.deviceType),
    rows.map((row) => row.maskedIp),
    rows.map((row) => row.maskedDeviceId),
    rows.map((row) => row.locale),
    rows.map((row) => row.appVersion),
    rows.map((row) => row.appVersionRaw),
    rows.map((row) => row.createDate),
    rows.map((row) => row.keyId),
    rows.map((row) => row.recoveryKeyId),
    rows.map((row) => row.sealed),
  ];
}

const CHUNK_CHARS = 64 * 1024;

/** The error the store throws when the database cannot be used: a ConfigError if waiting cannot help. */
function failure(message: string, error: unknown): Error {
  if (!isConfigurationFault(error)) return new TransientError(message, { cause: error });
  // pg's text for these (e.g. "permission denied for table user_logins") holds no row data.
  const text = error instanceof Error ? error.message : String(error);
  return new ConfigError(`${message}: ${text} (SQLSTATE ${sqlState(error)})`, { cause: error });
}

const toError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));

/**
 * Streams every row into one COPY, collecting them into `all` (even after a failure, so the
 * caller can fall back). Rejects with the COPY's error.
 */
async function copyRows(
  client: PoolClient,
  rows: Iterable<LoginRow>,
  all: LoginRow[],
): Promise<void> {
  const stream = client.query(copyFrom(COPY));
  let failure: Error | undefined;
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', (error) => {
      failure = error;
      reject(error);
    });
  });
  done.catch(() => {}); // observed below; avoids an unhandled rejection while rows are produced
  let chunk = '';
  for (const row of rows) {
    all.push(row);
    if (failure !== undefined) continue;
    chunk += copyLine(row);
    if (chunk.length < CHUNK_CHARS) continue;
    const flushed = stream.write(chunk);
    chunk = '';
    // Wait for the socket, or for the COPY to fail; never leave the loop early: every row
    // must reach `all`, or the fallback would silently skip the rest of the batch.
    if (!flushed) {
      await Promise.race([
        new Promise((resolve) => stream.once('drain', resolve)),
        done.catch(() => {}),
      ]);
    }
  }
  if (failure === undefined) stream.end(chunk);
  await done;
}

/** The ids of the rows of `all` that were neither `written` nor `rejected`: already there. */
function existingIds(
  all: readonly LoginRow[],
  written: readonly string[],
  rejected: readonly RejectedRow[],
): string[] {
  // Counted, not a set: two rows of one batch may share an id (one is then already there).
  const accounted = new Map<string, number>();
  for (const id of [...written, ...rejected.map((row) => row.messageId)]) {
    accounted.set(id, (accounted.get(id) ?? 0) + 1);
  }
  const existing: string[] = [];
  for (const { messageId } of all) {
    const left = accounted.get(messageId) ?? 0;
    if (left > 0) accounted.set(messageId, left - 1);
    else existing.push(messageId);
  }
  return existing;
}

/** A LoginStore on a pg pool. */
export function createLoginStore(pool: Pool): LoginStore {
  interface Attempt {
    statements: number;
    readonly rejected: RejectedRow[];
  }

  // Each resolves to the message ids of the rows it wrote.
  const insertOnce = async (rows: readonly LoginRow[], attempt: Attempt): Promise<string[]> => {
    const values = columns(rows);
    for (let tries = 1; ; tries++) {
      attempt.statements++;
      try {
        const result = await pool.query<{ message_id: string }>({ ...INSERT, values });
        return result.rows.map((written) => written.message_id);
      } catch (error) {
        if (isDataError(error)) throw error;
        // A stale socket (e.g. after a Lambda freeze) fails once; the pool then reconnects.
        if (tries === 1 && isConnectionError(error)) continue;
        throw failure(`insert of ${rows.length} rows failed`, error);
      }
    }
  };

  const insertIsolating = async (
    rows: readonly LoginRow[],
    attempt: Attempt,
  ): Promise<string[]> => {
    try {
      return await insertOnce(rows, attempt);
    } catch (error) {
      if (!isDataError(error)) throw error;
      const [only] = rows;
      if (rows.length === 1 && only !== undefined) {
        const { constraint } = error as { constraint?: string };
        attempt.rejected.push({
          messageId: only.messageId,
          sqlState: sqlState(error) ?? '',
          constraint,
        });
        return [];
      }
      const half = Math.ceil(rows.length / 2);
      return [
        ...(await insertIsolating(rows.slice(0, half), attempt)),
        ...(await insertIsolating(rows.slice(half), attempt)),
      ];
    }
  };

  return {
    async insert(rows) {
      const all: LoginRow[] = [];
      const attempt: Attempt = { statements: 1, rejected: [] };
      let client: PoolClient | undefined;
      // A checked-out client reports a dropped socket as an 'error' event; unhandled, that
      // would crash the process. The COPY stream fails too, which is what we act on.
      const ignoreSocketError = () => {};
      try {
        client = await pool.connect();
        client.on('error', ignoreSocketError);
        await copyRows(client, rows, all);
        client.off('error', ignoreSocketError);
        client.release();
        return {
          rows: all.length,
          inserted: all.length,
          existing: [],
          rejected: [],
          statements: 1,
        };
      } catch (error) {
        // After a data error the server ended the COPY and the connection is idle again;
        // after anything else (a dropped socket, a failure while producing rows) it may be
        // mid-COPY, so it is destroyed rather than returned to the pool.
        client?.off('error', ignoreSocketError);
        client?.release(isDataError(error) ? undefined : toError(error));
        if (client === undefined) for (const row of rows) all.push(row);
        // Redeliveries (23505), rows the database rejects, or a dropped socket: take the
        // statement that skips duplicates and isolates bad rows. Anything else is transient.
        if (!isDataError(error) && !isConnectionError(error)) {
          throw failure(`copy of ${all.length} rows failed`, error);
        }
      }
      if (all.length === 0) {
        return { rows: 0, inserted: 0, existing: [], rejected: [], statements: 1 };
      }
      const written = await insertIsolating(all, attempt);
      return {
        rows: all.length,
        inserted: written.length,
        existing: existingIds(all, written, attempt.rejected),
        rejected: attempt.rejected,
        statements: attempt.statements,
      };
    },
  };
}
