/**
 * Controlled recovery of the value behind a token, with an audit row (never the value).
 */
import type { KeyObject } from 'node:crypto';
import { RecoveryError, unseal } from '../core/recovery';
import type { Pool } from '../db/pool';
import { auditRecovery, findSealedToken } from '../db/recovery';

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
  const row = await findSealedToken(pool, token);
  if (row === undefined) {
    throw new RecoveryError(
      'no row with recovery data holds this token (unknown token, or written without recovery)',
    );
  }
  const key = ring.get(row.recoveryKeyId);
  if (key === undefined) {
    throw new RecoveryError(
      `this token was sealed for recovery key "${row.recoveryKeyId}", which the given key ring does not hold`,
    );
  }
  const opened = unseal(row.piiSealed, row.messageId, key);
  const { field } = row;
  await auditRecovery(pool, { operator: audit.operator, token, field, reason: audit.reason });
  return {
    field,
    value: field === 'ip' ? opened.ip : opened.deviceId,
    messageId: row.messageId,
    recoveryKeyId: row.recoveryKeyId,
  };
}
