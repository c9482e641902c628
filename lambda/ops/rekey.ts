/**
 * Re-keying after a masking key rotation: recomputes the tokens of rows masked with an older
 * key under the current one, from their sealed PII, in bounded batches. Resumable: it only
 * selects rows whose key_id is not current, so a rerun continues where a stopped one ended.
 */
import type { KeyObject } from 'node:crypto';
import type { Pool } from 'pg';
import type { KeyRing } from '../core/key-ring';
import { mask } from '../core/masking';
import { RecoveryError, unseal } from '../core/recovery';

export interface RekeyResult {
  readonly rekeyed: number;
  readonly batches: number;
  /** Rows on an older key without sealed PII (e.g. written before recovery existed). */
  readonly withoutRecoveryData: number;
}

/** Rows rekey would re-key: on another key than `currentKeyId`, with sealed PII. */
export async function countRowsToRekey(pool: Pool, currentKeyId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM user_logins WHERE key_id IS DISTINCT FROM $1 AND pii_sealed IS NOT NULL',
    [currentKeyId],
  );
  return rows[0]?.n ?? 0;
}

/** What a rekey now would do, changing nothing (`--dry-run`). */
export interface RekeyPreview {
  readonly dryRun: true;
  /** Rows it would re-key, by the key id they are masked with now. */
  readonly byKeyId: Readonly<Record<string, number>>;
  readonly rows: number;
  /** Rows on older keys without sealed PII: they would keep their tokens. */
  readonly withoutRecoveryData: number;
  /** Recovery key ids those rows were sealed with that the given ring lacks: the run would fail. */
  readonly missingRecoveryKeys: readonly string[];
}

/**
 * Counts, read only, the rows rekey would re-key to `currentKeyId` by their key id, the rows it
 * would leave, and the recovery keys it would need but is not given.
 */
export async function previewRekey(
  pool: Pool,
  currentKeyId: string,
  recovery: ReadonlyMap<string, KeyObject>,
): Promise<RekeyPreview> {
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
  const byKeyId: Record<string, number> = {};
  const missing = new Set<string>();
  let withoutRecoveryData = 0;
  for (const row of rows) {
    if (!row.sealed) {
      withoutRecoveryData += row.n;
      continue;
    }
    const key = row.key_id ?? '(none)';
    byKeyId[key] = (byKeyId[key] ?? 0) + row.n;
    if (!recovery.has(row.recovery_key_id ?? '')) missing.add(row.recovery_key_id ?? '(none)');
  }
  return {
    dryRun: true,
    byKeyId,
    rows: Object.values(byKeyId).reduce((sum, n) => sum + n, 0),
    withoutRecoveryData,
    missingRecoveryKeys: [...missing].sort(),
  };
}

/** Re-keys every row it can; throws RecoveryError when a row's recovery key is missing. */
export async function rekey(
  pool: Pool,
  masking: KeyRing,
  recovery: ReadonlyMap<string, KeyObject>,
  options: { batchSize?: number; onBatch?: (rekeyed: number) => void } = {},
): Promise<RekeyResult> {
  const current = masking.current;
  const batchSize = options.batchSize ?? 1000;
  let cursor = '';
  let rekeyed = 0;
  let batches = 0;
  for (;;) {
    const { rows } = await pool.query<{
      message_id: string;
      recovery_key_id: string;
      pii_sealed: Buffer;
    }>(
      `SELECT message_id, recovery_key_id, pii_sealed FROM user_logins
        WHERE key_id IS DISTINCT FROM $1 AND pii_sealed IS NOT NULL AND message_id > $2
        ORDER BY message_id LIMIT $3`,
      [current.id, cursor, batchSize],
    );
    if (rows.length === 0) break;
    const ids: string[] = [];
    const ips: string[] = [];
    const devices: string[] = [];
    for (const row of rows) {
      const key = recovery.get(row.recovery_key_id);
      if (key === undefined)
        throw new RecoveryError(`recovery key "${row.recovery_key_id}" is not in the given ring`);
      const { ip, deviceId } = unseal(row.pii_sealed, row.message_id, key);
      ids.push(row.message_id);
      ips.push(mask(current, 'ip', ip));
      devices.push(mask(current, 'device_id', deviceId));
    }
    const { rowCount } = await pool.query(
      `UPDATE user_logins AS u
          SET masked_ip = v.ip, masked_device_id = v.device, key_id = $4
         FROM unnest($1::text[], $2::text[], $3::text[]) AS v(message_id, ip, device)
        WHERE u.message_id = v.message_id AND u.key_id IS DISTINCT FROM $4`,
      [ids, ips, devices, current.id],
    );
    rekeyed += rowCount ?? 0;
    batches++;
    options.onBatch?.(rekeyed);
    cursor = ids[ids.length - 1] ?? cursor;
  }
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM user_logins WHERE key_id IS DISTINCT FROM $1 AND pii_sealed IS NULL',
    [current.id],
  );
  return { rekeyed, batches, withoutRecoveryData: rows[0]?.n ?? 0 };
}
