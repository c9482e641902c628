/**
 * Redrive identity that producers cannot forge (pure). A message the pipeline dead-letters
 * carries the id it was first sent under (SourceMessageId) and a marker: an HMAC of that id
 * under a key derived from the masking key ring, which only the pipeline holds
 * (SourceMessageSignature = "<keyId>:" + base64url(HMAC-SHA256(K_marker, id))). The handler
 * stores a redriven message under SourceMessageId only when the marker verifies; otherwise
 * (forged by a producer, or signed by a key no longer in the ring) the message is new.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import type { KeyRing } from './key-ring';
import type { MaskingKey } from './masking';

export const MarkerAttribute = {
  SourceMessageId: 'SourceMessageId',
  Signature: 'SourceMessageSignature',
} as const;

/** The marker for `sourceMessageId` under `key`. */
export function signMarker(key: MaskingKey, sourceMessageId: string): string {
  return `${key.id}:${createHmac('sha256', key.markerKey).update(sourceMessageId).digest('base64url')}`;
}

/** True when `signature` is a marker of `sourceMessageId` under a key of `ring`. */
export function verifyMarker(ring: KeyRing, sourceMessageId: string, signature: string): boolean {
  const colon = signature.indexOf(':');
  const key = colon > 0 ? ring.keys.get(signature.slice(0, colon)) : undefined;
  if (key === undefined) return false;
  const expected = Buffer.from(signMarker(key, sourceMessageId));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * The id a record is stored under: its verified SourceMessageId (a redrive of an earlier
 * message), else its own message id. `onUnverified` hears a record whose SourceMessageId was
 * ignored. Costs one property read for a record without the attribute.
 */
export function recordIdentity(
  record: SQSRecord,
  ring: KeyRing,
  onUnverified?: (messageId: string) => void,
): string {
  const attributes = record.messageAttributes;
  const source = attributes?.[MarkerAttribute.SourceMessageId]?.stringValue;
  if (!source) return record.messageId;
  const signature = attributes?.[MarkerAttribute.Signature]?.stringValue;
  if (signature && verifyMarker(ring, source, signature)) return source;
  onUnverified?.(record.messageId);
  return record.messageId;
}
