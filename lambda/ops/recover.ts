/**
 * Controlled recovery of the value behind a token, with an audit row (never the value).
 */
import type { KeyObject } from 'node:crypto';
import type { Pool } from 'pg';
import { RecoveryError, unseal } from '../core/recovery';

export interface Recovered {
  readonly field: 'ip' | 'device_id';
  readonly value: string;
  readonly messageId: string;
  readonly recoveryKeyId: string;
}

export interface AuditEntry {
  readonly operator: string;
  readonly reason: string;
}

/**
 * Finds a row holding `token` (as masked_ip or masked_device_id), opens its sealed PII with
 * the matching key of `ring`, records who/when/which token/why in pii_recovery_audit and
 * returns the value. Throws RecoveryError when no row can be opened.
 */
export async function recoverToken(
  pool: Pool,
  token: string,
  ring: ReadonlyMap<string, KeyObject>,
  audit: AuditEntry,
): Promise<Recovered> {
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
  if (row === undefined) {
    throw new RecoveryError(
      'no row with recovery data holds this token (unknown token, or written without recovery)',
    );
  }
  const key = ring.get(row.recovery_key_id);
  if (key === undefined) {
    throw new RecoveryError(
      `this token was sealed for recovery key "${row.recovery_key_id}", which the given key ring does not hold`,
    );
  }
  const opened = unseal(row.pii_sealed, row.message_id, key);
  const field = row.is_ip ? 'ip' : 'device_id';
  await pool.query(
    'INSERT INTO pii_recovery_audit (operator, token, field, reason) VALUES ($1, $2, $3, $4)',
    [audit.operator, token, field, audit.reason],
  );
  return {
    field,
    value: field === 'ip' ? opened.ip : opened.deviceId,
    messageId: row.message_id,
    recoveryKeyId: row.recovery_key_id,
  };
}
