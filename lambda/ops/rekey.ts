/**
 * Re-keying after a masking key rotation: recomputes the tokens of rows masked with an older
 * key under the current one, from their sealed PII, in bounded batches. Resumable: it only
 * selects rows whose key_id is not current, so a rerun continues where a stopped one ended.
 */
import type { KeyObject } from 'node:crypto';
import type { KeyRing } from '../core/key-ring';
import { mask } from '../core/masking';
import { RecoveryError, unseal } from '../core/recovery';
import type { Pool } from '../db/pool';
import {
  countRowsOffKeyByGroup,
  countRowsWithoutRecoveryData,
  type Retokened,
  sealedRowsOffKey,
  setTokens,
} from '../db/rekey';

export interface RekeyResult {
  readonly rekeyed: number;
  readonly batches: number;
  /** Rows on an older key without sealed PII (e.g. written before recovery existed). */
  readonly withoutRecoveryData: number;
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
  const groups = await countRowsOffKeyByGroup(pool, currentKeyId);
  const byKeyId: Record<string, number> = {};
  const missing = new Set<string>();
  let withoutRecoveryData = 0;
  for (const group of groups) {
    if (!group.sealed) {
      withoutRecoveryData += group.rows;
      continue;
    }
    const key = group.keyId ?? '(none)';
    byKeyId[key] = (byKeyId[key] ?? 0) + group.rows;
    if (!recovery.has(group.recoveryKeyId ?? '')) missing.add(group.recoveryKeyId ?? '(none)');
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
    const rows = await sealedRowsOffKey(pool, current.id, cursor, batchSize);
    if (rows.length === 0) break;
    const retokened: Retokened[] = [];
    for (const row of rows) {
      const key = recovery.get(row.recoveryKeyId);
      if (key === undefined)
        throw new RecoveryError(`recovery key "${row.recoveryKeyId}" is not in the given ring`);
      const { ip, deviceId } = unseal(row.piiSealed, row.messageId, key);
      retokened.push({
        messageId: row.messageId,
        maskedIp: mask(current, 'ip', ip),
        maskedDeviceId: mask(current, 'device_id', deviceId),
      });
    }
    rekeyed += await setTokens(pool, current.id, retokened);
    batches++;
    options.onBatch?.(rekeyed);
    cursor = retokened[retokened.length - 1]?.messageId ?? cursor;
  }
  return {
    rekeyed,
    batches,
    withoutRecoveryData: await countRowsWithoutRecoveryData(pool, current.id),
  };
}
