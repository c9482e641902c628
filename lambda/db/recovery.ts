/**
 * The statements of a recovery (ops/recover.ts): the row that holds a token with its sealed
 * PII, and the pii_recovery_audit row that records who recovered which token and why (never
 * the value).
 */
import type { Pool } from 'pg';

/** A row holding a token, with what opens it. */
export interface SealedToken {
  readonly messageId: string;
  readonly recoveryKeyId: string;
  readonly piiSealed: Buffer;
  /** Which of the row's tokens it is. */
  readonly field: 'ip' | 'device_id';
}

/** One pii_recovery_audit row. */
export interface RecoveryAuditEntry {
  readonly operator: string;
  readonly token: string;
  readonly field: 'ip' | 'device_id';
  readonly reason: string;
}

/** A row with sealed PII whose masked_ip or masked_device_id is `token`; undefined if none. */
export async function findSealedToken(pool: Pool, token: string): Promise<SealedToken | undefined> {
  const { rows } = await pool.query<{
    message_id: string;
    recovery_key_id: string;
    pii_sealed: Buffer;
    is_ip: boolean;
  }>(
    `SELECT message_id, recovery_key_id, pii_sealed, masked_ip = $1 AS is_ip
       FROM user_logins
      WHERE (masked_ip = $1 OR masked_device_id = $1) AND pii_sealed IS NOT NULL
      LIMIT 1`,
    [token],
  );
  const [row] = rows;
  return (
    row && {
      messageId: row.message_id,
      recoveryKeyId: row.recovery_key_id,
      piiSealed: row.pii_sealed,
      field: row.is_ip ? 'ip' : 'device_id',
    }
  );
}

/** Appends one pii_recovery_audit row (its time is the server's). */
export async function auditRecovery(pool: Pool, entry: RecoveryAuditEntry): Promise<void> {
  await pool.query(
    'INSERT INTO pii_recovery_audit (operator, token, field, reason) VALUES ($1, $2, $3, $4)',
    [entry.operator, entry.token, entry.field, entry.reason],
  );
}
