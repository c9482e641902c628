/**
 * From a validated SQS record to the row that stores it: its id, its tokens, its date.
 */
import type { SQSRecord } from 'aws-lambda';
import type { LoginRow } from './db/store';
import { DeadLetterAttribute } from './dead-letter';
import type { LoginEvent } from './login-event';
import type { batchMasker, MaskingKey } from './masking';
import type { Sealer } from './recovery';

export interface Valid {
  readonly record: SQSRecord;
  readonly event: LoginEvent;
}

const DAY_MS = 86_400_000;
let lastDay = Number.NaN;
let lastDate = '';

/** UTC date of the message's first send (a redelivery keeps it); memoised per day. */
function sentDate(record: SQSRecord, fallback: number): string {
  const sent = Number(record.attributes?.SentTimestamp);
  const day = Math.floor((Number.isFinite(sent) && sent > 0 ? sent : fallback) / DAY_MS);
  if (day !== lastDay) {
    lastDate = new Date(day * DAY_MS).toISOString().slice(0, 10);
    lastDay = day;
  }
  return lastDate;
}

/**
 * The id a row is stored under: the message's own id, or, for a message put back by the
 * redrive tool, the id it had when first sent (the SourceMessageId attribute that the DLQ
 * sends and the redrive keep). A message redriven twice is therefore still one row.
 */
export function idempotencyKey(record: SQSRecord): string {
  return (
    record.messageAttributes?.[DeadLetterAttribute.SourceMessageId]?.stringValue || record.messageId
  );
}

export function toRow(
  { record, event }: Valid,
  key: MaskingKey,
  masked: ReturnType<typeof batchMasker>,
  sealer: Sealer | undefined,
  now: number,
): LoginRow {
  const messageId = idempotencyKey(record);
  return {
    messageId,
    userId: event.userId,
    deviceType: event.deviceType,
    maskedIp: masked('ip', event.ip),
    maskedDeviceId: masked('device_id', event.deviceId),
    locale: event.locale,
    appVersion: event.appVersion,
    appVersionRaw: event.appVersionRaw,
    createDate: sentDate(record, now),
    keyId: key.id,
    recoveryKeyId: sealer?.keyId ?? null,
    sealed: sealer?.seal(messageId, event.ip, event.deviceId) ?? null,
  };
}
