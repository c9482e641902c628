/**
 * From a validated SQS record to the row that stores it: its id, its tokens, its date.
 */
import type { SQSRecord } from 'aws-lambda';
import type { LoginEvent } from './login-event';
import type { batchMasker, MaskingKey } from './masking';
import type { Sealer } from './recovery';
import type { RecordIdentity } from './redrive-marker';

/** One row of user_logins, as the store writes it. */
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
  /** Recovery key the sealed PII was sealed for (lambda/core/recovery.ts), or null. */
  readonly recoveryKeyId: string | null;
  readonly sealed: Buffer | null;
}

export interface Valid {
  readonly record: SQSRecord;
  readonly event: LoginEvent;
}

const DAY_MS = 86_400_000;

/** UTC date of a message's first send (a redelivery keeps it), memoised per day. */
function sentDates(fallback: number): (sentTimestamp: string | undefined) => string {
  let lastDay = Number.NaN;
  let lastDate = '';
  return (sentTimestamp) => {
    const sent = Number(sentTimestamp);
    const day = Math.floor((Number.isFinite(sent) && sent > 0 ? sent : fallback) / DAY_MS);
    if (day !== lastDay) {
      lastDate = new Date(day * DAY_MS).toISOString().slice(0, 10);
      lastDay = day;
    }
    return lastDate;
  };
}

/**
 * The row builder of one batch: a validated record's row, stored under its identity (see
 * redrive-marker.recordIdentity), masked with `key`, dated by its first send (else `now`).
 */
export function rowBuilder(
  key: MaskingKey,
  masked: ReturnType<typeof batchMasker>,
  sealer: Sealer | undefined,
  now: number,
): (valid: Valid, identity: RecordIdentity) => LoginRow {
  const sentDate = sentDates(now);
  return ({ event }, { messageId, sentTimestamp }) => ({
    messageId,
    userId: event.userId,
    deviceType: event.deviceType,
    maskedIp: masked('ip', event.ip),
    maskedDeviceId: masked('device_id', event.deviceId),
    locale: event.locale,
    appVersion: event.appVersion,
    appVersionRaw: event.appVersionRaw,
    createDate: sentDate(sentTimestamp),
    keyId: key.id,
    recoveryKeyId: sealer?.keyId ?? null,
    sealed: sealer?.seal(messageId, event.ip, event.deviceId) ?? null,
  });
}
