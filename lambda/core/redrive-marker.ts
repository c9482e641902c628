/**
 * Redrive identity that producers cannot forge (pure). A message the pipeline dead-letters
 * carries the id it was first sent under (SourceMessageId) and a marker: an HMAC of that id
 * under a key derived from the masking key ring, which only the pipeline holds
 * (SourceMessageSignature = "<keyId>:" + base64url(HMAC-SHA256(K_marker, id))). The handler
 * stores a redriven message under SourceMessageId only when the marker verifies; otherwise
 * (forged by a producer, or signed by a key no longer in the ring) the message is new.
 *
 * A redrive is a new SQS message with a new SentTimestamp, and the row's create_date (its
 * partition, and half of its unique key) comes from the first send. So the marker also covers
 * SourceSentTimestamp, the first send's time: the HMAC is then over "<id>\n<timestamp>".
 * Markers without it (written before it existed) still verify, and the redrive is dated by its
 * own send.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import type { KeyRing } from './key-ring';
import type { MaskingKey } from './masking';

export const MarkerAttribute = {
  SourceMessageId: 'SourceMessageId',
  Signature: 'SourceMessageSignature',
  SourceSentTimestamp: 'SourceSentTimestamp',
} as const;

/** The marker for `sourceMessageId` (first sent at `sentTimestamp`, epoch ms) under `key`. */
export function signMarker(
  key: MaskingKey,
  sourceMessageId: string,
  sentTimestamp?: string,
): string {
  const signed =
    sentTimestamp === undefined ? sourceMessageId : `${sourceMessageId}\n${sentTimestamp}`;
  return `${key.id}:${createHmac('sha256', key.markerKey).update(signed).digest('base64url')}`;
}

/** True when `signature` is a marker of `sourceMessageId` (and `sentTimestamp`) under a key of `ring`. */
export function verifyMarker(
  ring: KeyRing,
  sourceMessageId: string,
  signature: string,
  sentTimestamp?: string,
): boolean {
  const colon = signature.indexOf(':');
  const key = colon > 0 ? ring.keys.get(signature.slice(0, colon)) : undefined;
  if (key === undefined) return false;
  const expected = Buffer.from(signMarker(key, sourceMessageId, sentTimestamp));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Who a record is: the id its row is stored under and the first send's time (epoch ms). */
export interface RecordIdentity {
  readonly messageId: string;
  /** SentTimestamp of the first send, as SQS gives it; undefined if SQS gave none. */
  readonly sentTimestamp: string | undefined;
}

/**
 * A record's identity: its verified SourceMessageId and SourceSentTimestamp (a redrive of an
 * earlier message), else its own message id and SentTimestamp. `onUnverified` hears a record
 * whose SourceMessageId was ignored. Costs one property read for a record without the attribute.
 */
export function recordIdentity(
  record: SQSRecord,
  ring: KeyRing,
  onUnverified?: (messageId: string) => void,
): RecordIdentity {
  const own = { messageId: record.messageId, sentTimestamp: record.attributes?.SentTimestamp };
  const attributes = record.messageAttributes;
  const source = attributes?.[MarkerAttribute.SourceMessageId]?.stringValue;
  if (!source) return own;
  const signature = attributes?.[MarkerAttribute.Signature]?.stringValue;
  const sent = attributes?.[MarkerAttribute.SourceSentTimestamp]?.stringValue;
  if (signature && verifyMarker(ring, source, signature, sent)) {
    return { messageId: source, sentTimestamp: sent ?? own.sentTimestamp };
  }
  onUnverified?.(record.messageId);
  return own;
}
