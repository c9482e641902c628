import { describe, expect, it } from 'vitest';
import { parseKeyRing } from '../../../lambda/core/key-ring';
import { parseLoginEvent } from '../../../lambda/core/login-event';
import { batchMasker } from '../../../lambda/core/masking';
import { rowBuilder, type Valid } from '../../../lambda/core/rows';
import { loginBody, maskingSecret, sqsRecord } from '../../helpers/sqs';

const { current } = parseKeyRing(maskingSecret());
const valid = (): Valid => {
  const parsed = parseLoginEvent(loginBody());
  if (!parsed.ok) throw new Error('the test body must be valid');
  return { record: sqsRecord(loginBody()), event: parsed.event };
};
const NOW = Date.UTC(2026, 5, 1, 12);

describe('rowBuilder', () => {
  it('dates each row by the UTC day of its first send, across a midnight within one batch', () => {
    // Arrange
    const toRow = rowBuilder(current, batchMasker(current), undefined, NOW);
    const sent = (ms: number) => ({ messageId: `m${ms}`, sentTimestamp: String(ms) });
    // Act
    const dates = [
      Date.UTC(2026, 0, 31, 23, 59, 59),
      Date.UTC(2026, 1, 1, 0, 0, 0),
      Date.UTC(2026, 0, 31, 0, 0, 0),
    ].map((ms) => toRow(valid(), sent(ms)).createDate);
    // Assert
    expect(dates).toEqual(['2026-01-31', '2026-02-01', '2026-01-31']);
  });

  it('dates a row without a usable send time by the batch start, and stores it under its identity', () => {
    const toRow = rowBuilder(current, batchMasker(current), undefined, NOW);
    const row = toRow(valid(), { messageId: 'first-id', sentTimestamp: undefined });
    expect(row).toMatchObject({
      messageId: 'first-id',
      createDate: '2026-06-01',
      keyId: current.id,
      recoveryKeyId: null,
      sealed: null,
    });
  });
});
