/**
 * The statements of re-keying (ops/rekey.ts): rows masked with another key than the current
 * one, counted, read in batches by message id, and given their new tokens.
 */
import type { Pool } from 'pg';

/** Rows on another key than `currentKeyId`, grouped by key, recovery key and sealed PII. */
export interface RekeyGroup {
  readonly keyId: string | null;
  readonly recoveryKeyId: string | null;
  /** Whether the rows hold sealed PII (only those can be re-keyed). */
  readonly sealed: boolean;
  readonly rows: number;
}

/** A row to re-key: its id and its sealed PII. */
export interface SealedRow {
  readonly messageId: string;
  readonly recoveryKeyId: string;
  readonly piiSealed: Buffer;
}

/** A row's new tokens. */
export interface Retokened {
  readonly messageId: string;
  readonly maskedIp: string;
  readonly maskedDeviceId: string;
}

/** Rows rekey would re-key: on another key than `currentKeyId`, with sealed PII. */
export async function countRowsToRekey(pool: Pool, currentKeyId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM user_logins WHERE key_id IS DISTINCT FROM $1 AND pii_sealed IS NOT NULL',
    [currentKeyId],
  );
  return rows[0]?.n ?? 0;
}

/** Rows on another key than `currentKeyId` without sealed PII: rekey cannot re-key them. */
export async function countRowsWithoutRecoveryData(
  pool: Pool,
  currentKeyId: string,
): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM user_logins WHERE key_id IS DISTINCT FROM $1 AND pii_sealed IS NULL',
    [currentKeyId],
  );
  return rows[0]?.n ?? 0;
}

/** Rows on another key than `currentKeyId`, counted by key id, recovery key id and sealed. */
export async function countRowsOffKeyByGroup(
  pool: Pool,
  currentKeyId: string,
): Promise<readonly RekeyGroup[]> {
  const { rows } = await pool.query<{
    key_id: string | null;
    recovery_key_id: string | null;
    sealed: boolean;
    n: number;
  }>(
    `SELECT key_id, recovery_key_id, pii_sealed IS NOT NULL AS sealed, count(*)::int AS n
       FROM user_logins WHERE key_id IS DISTINCT FROM $1 GROUP BY 1, 2, 3`,
    [currentKeyId],
  );
  return rows.map((row) => ({
    keyId: row.key_id,
    recoveryKeyId: row.recovery_key_id,
    sealed: row.sealed,
    rows: row.n,
  }));
}

/**
 * Up to `limit` rows on another key than `currentKeyId` with sealed PII, whose message id
 * sorts after `after`, in message id order (a keyset page: a rerun resumes where one ended).
 */
export async function sealedRowsOffKey(
  pool: Pool,
  currentKeyId: string,
  after: string,
  limit: number,
): Promise<readonly SealedRow[]> {
  const { rows } = await pool.query<{
    message_id: string;
    recovery_key_id: string;
    pii_sealed: Buffer;
  }>(
    `SELECT message_id, recovery_key_id, pii_sealed FROM user_logins
      WHERE key_id IS DISTINCT FROM $1 AND pii_sealed IS NOT NULL AND message_id > $2
      ORDER BY message_id LIMIT $3`,
    [currentKeyId, after, limit],
  );
  return rows.map((row) => ({
    messageId: row.message_id,
    recoveryKeyId: row.recovery_key_id,
    piiSealed: row.pii_sealed,
  }));
}

/**
 * Sets the rows' tokens and key id to `keyId` in one statement, skipping rows already on it
 * (a concurrent run re-keyed them); resolves to how many rows changed.
 */
export async function setTokens(
  pool: Pool,
  keyId: string,
  rows: readonly Retokened[],
): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE user_logins AS u
        SET masked_ip = v.ip, masked_device_id = v.device, key_id = $4
       FROM unnest($1::text[], $2::text[], $3::text[]) AS v(message_id, ip, device)
      WHERE u.message_id = v.message_id AND u.key_id IS DISTINCT FROM $4`,
    [
      rows.map((row) => row.messageId),
      rows.map((row) => row.maskedIp),
      rows.map((row) => row.maskedDeviceId),
      keyId,
    ],
  );
  return rowCount ?? 0;
}
