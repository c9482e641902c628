import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TransientError } from '../../../lambda/core/errors';
import {
  DATABASE_REJECTED,
  deadLetterItem,
  decideFates,
  type Fate,
  type ParsedRecord,
  type RejectedRow,
  type StoreAnswer,
  settleFates,
  tallyFates,
} from '../../../lambda/core/fate';
import { parseKeyRing } from '../../../lambda/core/key-ring';
import { signMarker } from '../../../lambda/core/redrive-marker';
import { maskingSecret } from '../../helpers/sqs';

const valid = (messageId: string, rowId = messageId): ParsedRecord => ({ messageId, rowId });
const invalid = (messageId: string, reason = 'body.not_json'): ParsedRecord => ({
  messageId,
  rejection: { reason, detail: 'body is not JSON' },
});
const stored = (
  rows: number,
  existing: string[] = [],
  rejected: RejectedRow[] = [],
): StoreAnswer => ({
  ok: true,
  rows,
  existing,
  rejected,
  statements: 1 + rejected.length,
});

/** How many fates of each kind. */
function tallyKinds(fates: ReadonlyMap<string, Fate>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { kind } of fates.values()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

describe('decideFates', () => {
  it('writes every valid record the store took, and names the redeliveries duplicates', () => {
    // Arrange
    const parsed = [valid('a'), valid('b'), valid('c')];
    // Act
    const decision = decideFates(parsed, stored(3, ['b']));
    // Assert
    expect([...decision.fates.values()]).toEqual([
      { kind: 'written' },
      { kind: 'duplicate' },
      { kind: 'written' },
    ]);
    expect(decision).toMatchObject({
      written: 2,
      duplicates: 1,
      statements: 1,
      systemic: undefined,
    });
  });

  it('dead-letters an invalid body with its reason and detail, before the valid records', () => {
    const decision = decideFates([valid('a'), invalid('b', 'ip.invalid')], stored(1));
    expect([...decision.fates]).toEqual([
      ['b', { kind: 'dead-letter', reason: 'ip.invalid', detail: 'body is not JSON' }],
      ['a', { kind: 'written' }],
    ]);
  });

  it('finds a duplicate by its row id, once per row the store found already there', () => {
    // Arrange: a redrive and a redelivery of its original share a row id; the row was new.
    const parsed = [valid('redrive', 'first-id'), valid('again', 'first-id'), valid('c')];
    // Act
    const decision = decideFates(parsed, stored(3, ['first-id']));
    // Assert: one of the two wrote the row, the other found it.
    expect(tallyKinds(decision.fates)).toEqual({ written: 2, duplicate: 1 });
    expect(decision).toMatchObject({ written: 2, duplicates: 1, deadLetters: 0 });
  });

  it('keeps the fates decided earlier, before the new ones, and adds up the counts', () => {
    // Arrange: the invalid bodies decided as soon as they were parsed, the store not asked.
    const early = decideFates([invalid('x'), invalid('y', 'ip.invalid')], undefined);
    // Act
    const decision = decideFates([valid('a'), valid('b')], stored(2, ['b']), early);
    // Assert
    expect([...decision.fates.keys()]).toEqual(['x', 'y', 'a', 'b']);
    expect(decision.fates.get('y')).toMatchObject({ kind: 'dead-letter', reason: 'ip.invalid' });
    expect(decision).toMatchObject({ written: 1, duplicates: 1, deadLetters: 2, statements: 1 });
    expect(early.fates.size).toBe(2);
  });

  it('dead-letters the record whose row the database rejected, found by its row id', () => {
    const decision = decideFates(
      [valid('delivery-1', 'first-id'), valid('delivery-2')],
      stored(2, [], [{ messageId: 'first-id', sqlState: '23514', constraint: 'no_poison' }]),
    );
    expect(decision.fates.get('delivery-1')).toEqual({
      kind: 'dead-letter',
      reason: DATABASE_REJECTED,
      detail: 'SQLSTATE 23514 (no_poison)',
    });
    expect(decision.fates.get('delivery-2')).toEqual({ kind: 'written' });
    expect(decision).toMatchObject({ written: 1, duplicates: 0, deadLetters: 1, statements: 2 });
  });

  it('leaves the constraint out of the detail when the database named none', () => {
    const decision = decideFates(
      [valid('a')],
      stored(1, [], [{ messageId: 'a', sqlState: '22P02', constraint: undefined }]),
    );
    expect(decision.fates.get('a')).toMatchObject({ detail: 'SQLSTATE 22P02' });
  });

  it('retries every valid record, and names the error, when the store failed', () => {
    const error = new Error('database down');
    const decision = decideFates([valid('a'), invalid('b')], { ok: false, error });
    expect(decision.fates.get('a')).toEqual({ kind: 'retry' });
    expect(decision.fates.get('b')).toMatchObject({ kind: 'dead-letter' });
    expect(decision).toMatchObject({ written: 0, duplicates: 0, statements: 0, systemic: error });
  });

  it('retries the batch, as a transient fault, when the store took fewer rows than it has', () => {
    const decision = decideFates([valid('a'), valid('b')], stored(1));
    expect(decision.fates.get('b')).toEqual({ kind: 'retry' });
    expect(decision.systemic).toBeInstanceOf(TransientError);
    expect((decision.systemic as Error).message).toBe('the store took 1 of 2 rows');
  });

  it('retries the batch, as a transient fault, when a rejected row matches no record of it', () => {
    const decision = decideFates(
      [valid('a')],
      stored(1, [], [{ messageId: 'elsewhere', sqlState: '23514', constraint: undefined }]),
    );
    expect(decision.fates.get('a')).toEqual({ kind: 'retry' });
    expect(decision.systemic).toBeInstanceOf(TransientError);
    expect((decision.systemic as Error).message).toBe(
      'a rejected row matches no record of the batch',
    );
  });

  it('dead-letters the invalid bodies of a batch without a valid record (the store not asked)', () => {
    const decision = decideFates([invalid('a'), invalid('b')], undefined);
    expect(tallyFates(decision.fates)).toEqual({ retry: [], deadLettered: ['a', 'b'] });
    expect(decision.systemic).toBeUndefined();
  });

  it('gives every record exactly one fate, whatever the store answered', () => {
    // Arrange: records valid or not; a store that failed, or took them all and rejected some.
    const batch = fc
      .uniqueArray(fc.tuple(fc.uuid(), fc.boolean(), fc.boolean(), fc.boolean()), {
        selector: ([id]) => id,
        maxLength: 30,
      })
      .map((rows) =>
        rows.map(([id, ok, rejected, redelivered]) => ({
          record: ok ? valid(id) : invalid(id),
          rejected: ok && rejected,
          redelivered: ok && !rejected && redelivered,
        })),
      );
    fc.assert(
      fc.property(batch, fc.boolean(), (records, storeDown) => {
        const validCount = records.filter((r) => r.record.rejection === undefined).length;
        const rejected = records
          .filter((r) => r.rejected)
          .map((r) => ({
            messageId: r.record.messageId,
            sqlState: '23514',
            constraint: undefined,
          }));
        const existing = records.filter((r) => r.redelivered).map((r) => r.record.messageId);
        const answer: StoreAnswer = storeDown
          ? { ok: false, error: new Error('down') }
          : stored(validCount, existing, rejected);
        // Act
        const decision = decideFates(
          records.map((r) => r.record),
          answer,
        );
        // Assert
        expect(decision.fates.size).toBe(records.length);
        for (const { record, rejected: wasRejected } of records) {
          const fate = decision.fates.get(record.messageId);
          if (record.rejection !== undefined) {
            expect(fate).toMatchObject({ kind: 'dead-letter', reason: record.rejection.reason });
          } else if (storeDown) {
            expect(fate).toEqual({ kind: 'retry' });
          } else {
            const found = existing.includes(record.messageId);
            expect(fate?.kind).toBe(wasRejected ? 'dead-letter' : found ? 'duplicate' : 'written');
          }
        }
        if (!storeDown) {
          expect(decision.written + decision.duplicates + rejected.length).toBe(validCount);
          expect(decision.duplicates).toBe(existing.length);
        }
      }),
    );
  });
});

describe('settleFates', () => {
  it('retries a dead letter that could not be sent, and leaves the other fates', () => {
    const { fates } = decideFates([invalid('a'), invalid('b'), valid('c')], stored(1));
    const settled = settleFates(fates, new Set(['a', 'c']));
    expect(tallyFates(settled)).toEqual({ retry: ['a'], deadLettered: ['b'] });
    expect(settled.get('c')).toEqual({ kind: 'written' });
  });

  it('never changes the decided fates it was given', () => {
    const { fates } = decideFates([invalid('a')], undefined);
    settleFates(fates, new Set(['a']));
    expect(fates.get('a')).toMatchObject({ kind: 'dead-letter' });
  });
});

describe('deadLetterItem', () => {
  const ring = parseKeyRing(maskingSecret());
  const record = { messageId: 'delivery', body: 'not json' };
  const reason = { reason: 'body.not_json', detail: 'body is not JSON' };

  it('carries the body unchanged, the reason, and the identity signed by the current key', () => {
    const source = { messageId: 'first-id', sentTimestamp: '1767225600000' };
    expect(deadLetterItem(record, source, ring.current, reason)).toEqual({
      messageId: 'delivery',
      sourceMessageId: 'first-id',
      sourceSentTimestamp: '1767225600000',
      marker: signMarker(ring.current, 'first-id', '1767225600000'),
      body: 'not json',
      reason: 'body.not_json',
      detail: 'body is not JSON',
    });
  });

  it('carries no marker without a key, so a redrive is a new message', () => {
    const source = { messageId: 'delivery', sentTimestamp: undefined };
    expect(deadLetterItem(record, source, undefined, reason).marker).toBeUndefined();
  });
});
