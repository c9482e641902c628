import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { parseKeyRing } from '../../../lambda/core/key-ring';
import {
  MarkerAttribute,
  recordIdentity,
  signMarker,
  verifyMarker,
} from '../../../lambda/core/redrive-marker';
import { maskingSecret, sqsRecord } from '../../helpers/sqs';

const ring = parseKeyRing(maskingSecret('k1'));
const FIRST_SENT = '1767225600000';

/** A record as a redrive sends it: the first send's id and time (null: none), and `signature`. */
function redriven(signature: string, sent: string | null = FIRST_SENT): SQSRecord {
  const attribute = (stringValue: string) => ({ stringValue, dataType: 'String' });
  return sqsRecord('{}', {
    messageId: 'redrive-delivery',
    messageAttributes: {
      [MarkerAttribute.SourceMessageId]: attribute('first-id'),
      [MarkerAttribute.Signature]: attribute(signature),
      ...(sent === null ? {} : { [MarkerAttribute.SourceSentTimestamp]: attribute(sent) }),
    },
  });
}

describe('signMarker', () => {
  it('names the key it was made with, then the HMAC in base64url', () => {
    const marker = signMarker(ring.current, 'first-id', FIRST_SENT);
    expect(marker).toMatch(/^k1:[A-Za-z0-9_-]{43}$/);
  });

  it('gives the same marker for the same id and time, and another for another time', () => {
    const marker = signMarker(ring.current, 'first-id', FIRST_SENT);
    expect(signMarker(ring.current, 'first-id', FIRST_SENT)).toBe(marker);
    expect(signMarker(ring.current, 'first-id', '1767225600001')).not.toBe(marker);
    expect(signMarker(ring.current, 'first-id')).not.toBe(marker);
  });
});

describe('verifyMarker', () => {
  it('verifies a marker of the id and time under a key of the ring', () => {
    const marker = signMarker(ring.current, 'first-id', FIRST_SENT);
    expect(verifyMarker(ring, 'first-id', marker, FIRST_SENT)).toBe(true);
  });

  it('verifies a marker made before it covered the time, for a message without one', () => {
    const marker = signMarker(ring.current, 'first-id');
    expect(verifyMarker(ring, 'first-id', marker)).toBe(true);
  });

  it('refuses a tampered marker, another id, another time or a marker of no known key', () => {
    // Arrange
    const marker = signMarker(ring.current, 'first-id', FIRST_SENT);
    const last = marker.at(-1) === 'A' ? 'B' : 'A';
    const tampered = `${marker.slice(0, -1)}${last}`;
    const other = parseKeyRing(maskingSecret('k9'));
    // Act / Assert
    expect(verifyMarker(ring, 'first-id', tampered, FIRST_SENT)).toBe(false);
    expect(verifyMarker(ring, 'other-id', marker, FIRST_SENT)).toBe(false);
    expect(verifyMarker(ring, 'first-id', marker, '1767225600001')).toBe(false);
    expect(verifyMarker(ring, 'first-id', marker)).toBe(false);
    expect(verifyMarker(ring, 'first-id', signMarker(other.current, 'first-id'))).toBe(false);
    expect(verifyMarker(ring, 'first-id', `${marker}=`, FIRST_SENT)).toBe(false);
    expect(verifyMarker(ring, 'first-id', 'no-key-id', FIRST_SENT)).toBe(false);
    expect(verifyMarker(ring, 'first-id', ':k1', FIRST_SENT)).toBe(false);
  });

  it('verifies a marker of a key that is no longer current but still in the ring', () => {
    // Arrange: k1 signed; the ring rotated to k2 and keeps k1.
    const old = parseKeyRing(maskingSecret('k1'));
    const rotated = parseKeyRing(
      maskingSecret('k2', { k1: 'k1-test-key-material-0123456789abcdefghijklmnop' }),
    );
    // Act / Assert
    expect(verifyMarker(rotated, 'first-id', signMarker(old.current, 'first-id'))).toBe(true);
  });
});

describe('recordIdentity', () => {
  it('is the record’s own id and send time without a SourceMessageId', () => {
    const record = sqsRecord('{}', { messageId: 'own' });
    expect(recordIdentity(record, ring)).toEqual({
      messageId: 'own',
      sentTimestamp: record.attributes.SentTimestamp,
    });
  });

  it('is the first send’s id and time when the marker verifies', () => {
    const record = redriven(signMarker(ring.current, 'first-id', FIRST_SENT));
    expect(recordIdentity(record, ring)).toEqual({
      messageId: 'first-id',
      sentTimestamp: FIRST_SENT,
    });
  });

  it('keeps the redrive’s own send time under a marker that does not cover one', () => {
    const record = redriven(signMarker(ring.current, 'first-id'), null);
    expect(recordIdentity(record, ring)).toEqual({
      messageId: 'first-id',
      sentTimestamp: record.attributes.SentTimestamp,
    });
  });

  it('ignores a tampered marker and tells who was not trusted', () => {
    // Arrange: a producer names someone else's id with a made-up signature.
    const heard: string[] = [];
    const record = redriven('k1:forged');
    // Act
    const identity = recordIdentity(record, ring, (messageId) => heard.push(messageId));
    // Assert
    expect(identity.messageId).toBe('redrive-delivery');
    expect(heard).toEqual(['redrive-delivery']);
  });

  it('does not trust a true marker moved to another first send time', () => {
    const record = redriven(signMarker(ring.current, 'first-id', FIRST_SENT), '1600000000000');
    expect(recordIdentity(record, ring).messageId).toBe('redrive-delivery');
  });
});
