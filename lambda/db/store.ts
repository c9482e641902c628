/**
 * Writes masked login rows: one INSERT … SELECT FROM unnest(…) per batch, idempotent on the
 * SQS message id. Rows PostgreSQL rejects are isolated by bisection so they never fail their
 * neighbours; connection failures are retried once on a fresh connection, then surface as
 * TransientError (the caller retries the batch, and ON CONFLICT makes the retry safe).
 */
import type { Pool } from 'pg';
import { TransientError } from '../errors';
import { isConnectionError, isDataError, sqlState } from './pool';

export interface LoginRow {
  readonly messageId: string;
  readonly userId: string;
  readonly deviceType: string;
  readonly maskedIp: string;
  readonly maskedDeviceId: string;
  readonly locale: string | null;
  readonly appVersion: number;
  readonly appVersionRaw: string;
  /** UTC calendar date, YYYY-MM-DD. */
  readonly createDate: string;
  readonly keyId: string;
}

export interface RejectedRow {
  readonly messageId: string;
  /** SQLSTATE, e.g. 23514 for a CHECK violation. */
  readonly sqlState: string;
  readonly constraint: string | undefined;
}

export interface InsertResult {
  /** Rows written now; the others were already there (redeliveries). */
  readonly inserted: number;
  readonly rejected: readonly RejectedRow[];
  /** INSERT statements sent (1 unless rows were rejected and bisected). */
  readonly statements: number;
}

export interface LoginStore {
  /** Inserts rows; throws TransientError when the database cannot be reached or used. */
  insert(rows: readonly LoginRow[]): Promise<InsertResult>;
}

const INSERT = {
  name: 'login-queue.insert-user-logins',
  text: `INSERT INTO user_logins (message_id, user_id, device_type, masked_ip, masked_device_id,
           locale, app_version, app_version_raw, create_date, key_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
           $6::text[], $7::int4[], $8::text[], $9::date[], $10::text[])
         ON CONFLICT (message_id) DO NOTHING`,
};

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
  ];
}

/** A LoginStore on a pg pool. */
export function createLoginStore(pool: Pool): LoginStore {
  interface Attempt {
    statements: number;
    readonly rejected: RejectedRow[];
  }

  const run = async (rows: readonly LoginRow[], attempt: Attempt): Promise<number> => {
    const values = columns(rows);
    for (let tries = 1; ; tries++) {
      attempt.statements++;
      try {
        return (await pool.query({ ...INSERT, values })).rowCount ?? 0;
      } catch (error) {
        if (isDataError(error)) throw error;
        // A stale socket (e.g. after a Lambda freeze) fails once; the pool then reconnects.
        if (tries === 1 && isConnectionError(error)) continue;
        throw new TransientError(`insert of ${rows.length} rows failed`, { cause: error });
      }
    }
  };

  const insertIsolating = async (rows: readonly LoginRow[], attempt: Attempt): Promise<number> => {
    try {
      return await run(rows, attempt);
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
        return 0;
      }
      const half = Math.ceil(rows.length / 2);
      return (
        (await insertIsolating(rows.slice(0, half), attempt)) +
        (await insertIsolating(rows.slice(half), attempt))
      );
    }
  };

  return {
    async insert(rows) {
      if (rows.length === 0) return { inserted: 0, rejected: [], statements: 0 };
      const attempt: Attempt = { statements: 0, rejected: [] };
      const inserted = await insertIsolating(rows, attempt);
      return { inserted, rejected: attempt.rejected, statements: attempt.statements };
    },
  };
}
