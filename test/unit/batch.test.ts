import { describe, expect, it } from 'vitest';
import { createBatchProcessor } from '../../lambda/batch';
import { TransientError } from '../../lambda/errors';
import { fakeDependencies } from '../helpers/fakes';
import { loginBody, sqsEvent, sqsRecord } from '../helpers/sqs';

/** A delivery of a message the redrive tool put back (first sent as 'original-id'). */
const redriven = (deliveryId: string) =>
  sqsRecord(loginBody(), {
    messageId: deliveryId,
    messageAttributes: {
      SourceMessageId: {
        dataType: 'String',
        stringValue: 'original-id',
        stringListValues: [],
        binaryListValues: [],
      },
    },
  });

const failedIds = (response: { batchItemFailures: { itemIdentifier: string }[] }) =>
  response.batchItemFailures.map((failure) => failure.itemIdentifier).sort();

describe('batch processor', () => {
  it('writes every valid record once and reports no failure', async () => {
    // Arrange
    const { deps, store, summaries } = fakeDependencies();
    const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.1' })]);
    // Act
    const response = await createBatchProcessor(deps)(event);
    // Assert
    expect(response).toEqual({ batchItemFailures: [] });
    expect(store.rows.size).toBe(2);
    expect(summaries[0]).toMatchObject({
      received: 2,
      written: 2,
      duplicates: 0,
      deadLettered: 0,
      retried: 0,
    });
  });

  it('masks ip and device id, and stores the key id and the sent date in UTC', async () => {
    const { deps, store } = fakeDependencies();
    const record = sqsRecord(loginBody(), {
      attributes: {
        ...sqsRecord('').attributes,
        SentTimestamp: String(Date.UTC(2026, 0, 31, 23, 59, 59)),
      },
    });
    await createBatchProcessor(deps)({ Records: [record] });
    const row = store.rows.get(record.messageId);
    expect(row).toMatchObject({
      keyId: 'k1',
      createDate: '2026-01-31',
      appVersion: 2_003_000,
      appVersionRaw: '2.3.0',
    });
    expect(row?.maskedIp).toMatch(/^k1:[\w-]{43}$/);
    expect(JSON.stringify(row)).not.toContain('199.172.111.135');
    expect(JSON.stringify(row)).not.toContain('593-47-5928');
  });

  it('counts a redelivered message as a duplicate, not a second row', async () => {
    const { deps, store, summaries } = fakeDependencies();
    const event = sqsEvent([loginBody()]);
    const process = createBatchProcessor(deps);
    await process(event);
    await process(event);
    expect(store.rows.size).toBe(1);
    expect(summaries[1]).toMatchObject({ written: 0, duplicates: 1, retried: 0 });
  });

  it('dead-letters an invalid body with its reason and counts it handled', async () => {
    const { deps, deadLetter, summaries } = fakeDependencies();
    const event = sqsEvent(['{"foo": "oops_wrong_msg_type", "bar": "123"}', loginBody()]);
    const response = await createBatchProcessor(deps)(event);
    expect(response.batchItemFailures).toEqual([]);
    expect(deadLetter.sent).toEqual([
      {
        messageId: event.Records[0]?.messageId,
        sourceMessageId: event.Records[0]?.messageId,
        body: '{"foo": "oops_wrong_msg_type", "bar": "123"}',
        reason: 'user_id.missing',
        detail: 'user_id is required',
      },
    ]);
    expect(summaries[0]).toMatchObject({
      deadLettered: 1,
      written: 1,
      rejectedByReason: { 'user_id.missing': 1 },
    });
  });

  it('reports an invalid body as a failure when no DLQ is configured', async () => {
    const { deps } = fakeDependencies({ deadLetter: undefined });
    const event = sqsEvent(['not json', loginBody()]);
    const response = await createBatchProcessor(deps)(event);
    expect(failedIds(response)).toEqual([event.Records[0]?.messageId]);
  });

  it('reports an invalid body as a failure when the DLQ send fails', async () => {
    const { deps, deadLetter } = fakeDependencies();
    deadLetter.down = true;
    const event = sqsEvent(['not json']);
    const response = await createBatchProcessor(deps)(event);
    expect(failedIds(response)).toEqual([event.Records[0]?.messageId]);
  });

  it('dead-letters only the row the database rejects, not its neighbours', async () => {
    const { deps, store, deadLetter } = fakeDependencies();
    const event = sqsEvent([
      loginBody(),
      loginBody({ ip: '10.0.0.2' }),
      loginBody({ ip: '10.0.0.3' }),
    ]);
    const poisoned = event.Records[1]?.messageId as string;
    store.poison.add(poisoned);
    const response = await createBatchProcessor(deps)(event);
    expect(response.batchItemFailures).toEqual([]);
    expect(store.rows.size).toBe(2);
    expect(deadLetter.sent).toMatchObject([
      { messageId: poisoned, reason: 'database.rejected', detail: 'SQLSTATE 23514 (no_poison)' },
    ]);
  });

  it('reports every valid record when the database is down, and dead-letters the invalid ones', async () => {
    const { deps, store, deadLetter, log } = fakeDependencies();
    store.down = true;
    const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.2' }), 'not json']);
    const response = await createBatchProcessor(deps)(event);
    expect(failedIds(response)).toEqual(
      [event.Records[0]?.messageId, event.Records[1]?.messageId].sort(),
    );
    expect(deadLetter.sent.map((item) => item.reason)).toEqual(['body.not_json']);
    expect(log.lines.some((line) => line.level === 'error')).toBe(true);
  });

  it('reports every valid record when the masking key cannot be read', async () => {
    const { deps, store } = fakeDependencies({
      keys: { get: () => Promise.reject(new TransientError('secrets manager down')) },
    });
    const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.2' })]);
    const response = await createBatchProcessor(deps)(event);
    expect(response.batchItemFailures).toHaveLength(2);
    expect(store.rows.size).toBe(0);
  });

  it('never logs a raw body, ip or device id', async () => {
    const { deps, store, log } = fakeDependencies();
    store.down = true;
    const secretIp = '203.0.113.77';
    const event = sqsEvent([
      loginBody({ ip: secretIp, device_id: 'dev-secret-1' }),
      loginBody({ ip: '203.0.113.999', device_id: 'dev-secret-2' }),
    ]);
    await createBatchProcessor(deps)(event);
    const logged = JSON.stringify(log.lines);
    for (const raw of [secretIp, '203.0.113.999', 'dev-secret-1', 'dev-secret-2', 'user_id']) {
      expect(logged).not.toContain(raw);
    }
  });

  it('returns an empty failure list for an empty event', async () => {
    const { deps } = fakeDependencies();
    await expect(createBatchProcessor(deps)({ Records: [] })).resolves.toEqual({
      batchItemFailures: [],
    });
  });

  it('stores a redriven message under the id it was first sent with, so a second redrive is a duplicate', async () => {
    const { deps, store, summaries } = fakeDependencies();
    const process = createBatchProcessor(deps);
    await process({ Records: [redriven('redrive-1')] });
    await process({ Records: [redriven('redrive-2')] });
    expect([...store.rows.keys()]).toEqual(['original-id']);
    expect(summaries[1]).toMatchObject({ written: 0, duplicates: 1 });
  });

  it('names a failed redriven record by its delivery id, as Lambda requires', async () => {
    const { deps, store } = fakeDependencies();
    store.down = true;
    const record = redriven('delivery-id');
    const response = await createBatchProcessor(deps)({ Records: [record] });
    expect(failedIds(response)).toEqual(['delivery-id']);
  });

  it('sends the batch back if the store took fewer rows than the batch has', async () => {
    const { deps } = fakeDependencies({
      store: { insert: async () => ({ rows: 1, inserted: 1, rejected: [], statements: 1 }) },
    });
    const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.2' })]);
    const response = await createBatchProcessor(deps)(event);
    expect(response.batchItemFailures).toHaveLength(2);
  });
});
