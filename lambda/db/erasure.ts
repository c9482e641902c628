/**
 * The statements of an erasure (ops/forget.ts): a user's rows counted by partition, and the
 * one transaction that deletes them and appends the erasure_audit row. The audit names the
 * user by a keyed token, never by the id.
 */
import type { Pool } from 'pg';

/** Who erased, whom (as a token) and why: the erasure_audit row's own fields. */
export interface ErasureAuditEntry {
  readonly operator: string;
  readonly userToken: string;
  readonly reason: string;
}

/** The dead letters as the audit row counts them; null when no queue was checked. */
export interface DeadLetterAudit {
  readonly matched: number;
  readonly deleted: number;
}

/** What the erasure_audit row holds beyond the entry. */
export interface Erasure {
  /** When the transaction began (the audit row's `at`). */
  readonly at: Date;
  /** The database login that erased (session_user). */
  readonly dbUser: string;
  readonly rowsDeleted: number;
}

/** The user's rows of user_logins, counted by partition (sorted by partition name). */
export async function countUserRows(
  pool: Pool,
  userId: string,
): Promise<readonly { readonly partition: string; readonly n: number }[]> {
  const { rows } = await pool.query<{ partition: string; n: number }>(
    `SELECT tableoid::regclass::text AS partition, count(*)::int AS n
       FROM user_logins WHERE user_id = $1 GROUP BY 1 ORDER BY 1`,
    [userId],
  );
  return rows;
}

/**
 * In one transaction: deletes the user's rows of user_logins (every partition), runs
 * `deadLetters` (the dead-letter deletes, which therefore happen only once the rows are gone
 * and roll the rows back should they throw) and appends the audit row with its counts.
 * Rolls back and rethrows the database's or `deadLetters`' error; undefined only if the
 * server named no time.
 */
export async function eraseUser(
  pool: Pool,
  userId: string,
  entry: ErasureAuditEntry,
  deadLetters: () => Promise<DeadLetterAudit | null>,
): Promise<Erasure | undefined> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // The audit row's own defaults (now() is the transaction's start); INSERT … RETURNING
    // would need SELECT on the audit table, which the operator role does not have.
    const { rows } = await client.query<{ at: Date; db_user: string }>(
      'SELECT now() AS at, session_user AS db_user',
    );
    const erased = await client.query('DELETE FROM user_logins WHERE user_id = $1', [userId]);
    const counted = await deadLetters();
    await client.query(
      `INSERT INTO erasure_audit (operator, user_token, reason, rows_deleted,
                                  dead_letters_matched, dead_letters_deleted)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        entry.operator,
        entry.userToken,
        entry.reason,
        erased.rowCount ?? 0,
        counted?.matched ?? null,
        counted?.deleted ?? null,
      ],
    );
    await client.query('COMMIT');
    const [time] = rows;
    return time && { at: time.at, dbUser: time.db_user, rowsDeleted: erased.rowCount ?? 0 };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
