import { describe, expect, it } from 'vitest';
import { ConfigError, KeyRingError, TransientError } from '../../../lambda/core/errors';
import { parseKeyRing } from '../../../lambda/core/key-ring';
import { signMarker } from '../../../lambda/core/redrive-marker';
import { createBatchProcessor } from '../../../lambda/ingest/batch';
import { fakeDependencies } from '../../helpers/fakes';
import { loginBody, maskingSecret, sqsEvent, sqsRecord } from '../../helpers/sqs';

const ring = parseKeyRing(maskingSecret());
const attribute = (stringValue: string) => ({
  dataType: 'String',
  stringValue,
  stringListValues: [],
  binaryListValues: [],
});

/** A delivery of a message the redrive tool put back (first sent as `sourceId`); `marker` null: none. */
const redriven = (
  deliveryId: string,
  sourceId = 'original-id',
  marker: string | null = signMarker(ring.current, sourceId),
) =>
  sqsRecord(loginBody(), {
    messageId: deliveryId,
    messageAttributes: {
      SourceMessageId: attribute(sourceId),
      ...(marker === null ? {} : { SourceMessageSignature: attribute(marker) }),
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
        sourceSentTimestamp: event.Records[0]?.attributes.SentTimestamp,
        marker: signMarker(
          ring.current,
          event.Records[0]?.messageId as string,
          event.Records[0]?.attributes.SentTimestamp,
        ),
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

  it('names in its summary the records it dead-lettered, not those whose send failed', async () => {
    // Arrange: an invalid body, a row the database rejects, a valid record; then the DLQ down.
    const { deps, store, deadLetter, summaries } = fakeDependencies();
    const event = sqsEvent(['not json', loginBody({ ip: '10.0.0.2' }), loginBody()]);
    store.poison.add(event.Records[1]?.messageId as string);
    const process = createBatchProcessor(deps);
    // Act
    await process(event);
    deadLetter.down = true;
    await process(sqsEvent(['not json']));
    // Assert
    expect(summaries[0]?.deadLetteredIds).toEqual([
      event.Records[0]?.messageId,
      event.Records[1]?.messageId,
    ]);
    expect(summaries[1]).toMatchObject({ deadLettered: 0, deadLetteredIds: [], retried: 1 });
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

  it('backs every valid record off and fails the invocation when the database is down, deleting the dead-lettered ones', async () => {
    // Arrange
    const { deps, store, deadLetter, source, log } = fakeDependencies();
    store.down = true;
    const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.2' }), 'not json']);
    // Act
    const outcome = createBatchProcessor(deps)(event);
    // Assert: the invocation fails (Errors metric, the event source mapping backs off) ...
    await expect(outcome).rejects.toBeInstanceOf(TransientError);
    // ... the valid records wait base seconds (first receive) instead of burning receives ...
    expect(Object.fromEntries(source.visibility)).toEqual({
      [event.Records[0]?.messageId as string]: 120,
      [event.Records[1]?.messageId as string]: 120,
    });
    // ... and the dead-lettered one is deleted, so the failed invocation does not redeliver it.
    expect(deadLetter.sent.map((item) => item.reason)).toEqual(['body.not_json']);
    expect(source.deleted.map((entry) => entry.messageId)).toEqual([event.Records[2]?.messageId]);
    expect(
      log.lines.find((line) => line.message === 'batch failed; records back off'),
    ).toMatchObject({ attributes: { kind: 'dependency', records: 2, backoffSeconds: [120, 120] } });
  });

  it('waits longer the more often a record was received', async () => {
    const { deps, store, source } = fakeDependencies();
    store.down = true;
    const received = (n: number) =>
      sqsRecord(loginBody(), {
        attributes: { ...sqsRecord('').attributes, ApproximateReceiveCount: String(n) },
      });
    const records = [received(1), received(2), received(3), received(4), received(9)];
    await expect(createBatchProcessor(deps)({ Records: records })).rejects.toThrow();
    expect(records.map((record) => source.visibility.get(record.messageId))).toEqual([
      120, 600, 3000, 3600, 3600,
    ]);
  });

  it('backs off and fails when the masking key cannot be read', async () => {
    const { deps, store, source } = fakeDependencies({
      keys: { get: () => Promise.reject(new TransientError('secrets manager down')) },
    });
    const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.2' })]);
    await expect(createBatchProcessor(deps)(event)).rejects.toThrow(
      'secrets manager down (2 records back off)',
    );
    expect(source.visibility.size).toBe(2);
    expect(store.rows.size).toBe(0);
  });

  it('fails with a ConfigError naming the problem when the key ring does not parse', async () => {
    const { deps, source, deadLetter } = fakeDependencies({
      keys: { get: () => Promise.reject(new KeyRingError('masking secret is not JSON')) },
    });
    const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.2' })]);
    const error = await createBatchProcessor(deps)(event).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'configuration error: masking secret is not JSON (2 records back off)',
    );
    // Not dead-lettered for it: the records wait for the fix.
    expect(deadLetter.sent).toEqual([]);
    expect(source.visibility.size).toBe(2);
  });

  it('still fails the invocation when the visibility cannot be changed, and says so', async () => {
    const { deps, store, source, log } = fakeDependencies();
    store.down = true;
    source.down = true;
    await expect(createBatchProcessor(deps)(sqsEvent([loginBody()]))).rejects.toThrow();
    expect(
      log.lines.find((line) => line.message === 'batch failed; records back off'),
    ).toMatchObject({ attributes: { notExtended: 1 } });
  });

  it('never logs a raw body, ip or device id', async () => {
    const { deps, store, log } = fakeDependencies();
    store.down = true;
    const secretIp = '203.0.113.77';
    const event = sqsEvent([
      loginBody({ ip: secretIp, device_id: 'dev-secret-1' }),
      loginBody({ ip: '203.0.113.999', device_id: 'dev-secret-2' }),
    ]);
    await expect(createBatchProcessor(deps)(event)).rejects.toThrow();
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

  it('stores a message whose producer set SourceMessageId under its own id, and says so', async () => {
    // Arrange: a producer claims an existing row's id, without a marker or with a forged one.
    const { deps, store, log, summaries } = fakeDependencies();
    const process = createBatchProcessor(deps);
    await process({ Records: [redriven('first', 'victim-id')] });
    const unsigned = redriven('forged-1', 'victim-id', null);
    const forged = redriven('forged-2', 'victim-id', `k1:${'A'.repeat(43)}`);
    // Act
    await process({ Records: [unsigned, forged] });
    // Assert: neither is a duplicate of the victim; both are written, and logged.
    expect([...store.rows.keys()].sort()).toEqual(['forged-1', 'forged-2', 'victim-id']);
    expect(summaries[1]).toMatchObject({ written: 2, duplicates: 0 });
    expect(log.lines.find((line) => line.message.startsWith('redrive marker'))).toMatchObject({
      attributes: { messageIds: ['forged-1', 'forged-2'] },
    });
  });

  it('treats a marker signed by a key no longer in the ring as a new message', async () => {
    const { deps, store } = fakeDependencies();
    const retired = parseKeyRing(maskingSecret('k0'));
    const stale = redriven('delivery', 'old-id', signMarker(retired.current, 'old-id'));
    await createBatchProcessor(deps)({ Records: [stale] });
    expect([...store.rows.keys()]).toEqual(['delivery']);
  });

  it('signs the dead letter of a verified redrive with its first id and first send time', async () => {
    const { deps, deadLetter } = fakeDependencies();
    const firstSent = String(Date.UTC(2026, 0, 31, 23, 59));
    const record = sqsRecord('not json', {
      messageId: 'delivery',
      messageAttributes: {
        SourceMessageId: attribute('first-id'),
        SourceSentTimestamp: attribute(firstSent),
        SourceMessageSignature: attribute(signMarker(ring.current, 'first-id', firstSent)),
      },
    });
    await createBatchProcessor(deps)({ Records: [record] });
    expect(deadLetter.sent).toMatchObject([
      {
        sourceMessageId: 'first-id',
        sourceSentTimestamp: firstSent,
        marker: signMarker(ring.current, 'first-id', firstSent),
      },
    ]);
  });

  it('dates a redrive by its own send when its marker predates SourceSentTimestamp', async () => {
    const { deps, store } = fakeDependencies();
    const record = sqsRecord(loginBody(), {
      messageId: 'delivery',
      messageAttributes: {
        SourceMessageId: attribute('first-id'),
        SourceMessageSignature: attribute(signMarker(ring.current, 'first-id')),
      },
    });
    await createBatchProcessor(deps)({ Records: [record] });
    expect([...store.rows.values()].map((row) => [row.messageId, row.createDate])).toEqual([
      ['first-id', new Date(Number(record.attributes.SentTimestamp)).toISOString().slice(0, 10)],
    ]);
  });

  it('backs a failed redriven record off by its delivery id and receipt handle', async () => {
    const { deps, store, source } = fakeDependencies();
    store.down = true;
    const record = redriven('delivery-id');
    await expect(createBatchProcessor(deps)({ Records: [record] })).rejects.toThrow();
    expect([...source.visibility.keys()]).toEqual(['delivery-id']);
  });

  it('sends the batch back if the store took fewer rows than the batch has', async () => {
    const { deps } = fakeDependencies({
      store: {
        insert: async () => ({ rows: 1, inserted: 1, existing: [], rejected: [], statements: 1 }),
      },
    });
    const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.2' })]);
    await expect(createBatchProcessor(deps)(event)).rejects.toThrow('the store took 1 of 2 rows');
  });

  it('gives every record its fate when invalid bodies sit before, between and after the valid ones', async () => {
    // Bodies are parsed while the rows stream: the last ones only after the first rows are out.
    const { deps, store, deadLetter, summaries } = fakeDependencies();
    const event = sqsEvent([
      'not json',
      loginBody({ ip: '10.0.0.1' }),
      '{"user_id": null}',
      loginBody({ ip: '10.0.0.2' }),
      '[]',
    ]);
    const response = await createBatchProcessor(deps)(event);
    expect(response.batchItemFailures).toEqual([]);
    expect(store.rows.size).toBe(2);
    expect(deadLetter.sent.map((item) => [item.messageId, item.reason])).toEqual([
      [event.Records[0]?.messageId, 'body.not_json'],
      [event.Records[2]?.messageId, 'user_id.missing'],
      [event.Records[4]?.messageId, 'body.not_object'],
    ]);
    expect(summaries[0]).toMatchObject({ received: 5, written: 2, deadLettered: 3, retried: 0 });
  });

  it('still dead-letters the invalid bodies after the valid ones when the masking key cannot be read', async () => {
    const { deps, deadLetter, source } = fakeDependencies({
      keys: { get: () => Promise.reject(new TransientError('secrets manager down')) },
    });
    const event = sqsEvent([loginBody(), 'not json']);
    await expect(createBatchProcessor(deps)(event)).rejects.toThrow('secrets manager down');
    expect(deadLetter.sent.map((item) => [item.reason, item.marker])).toEqual([
      ['body.not_json', undefined],
    ]);
    expect([...source.visibility.keys()]).toEqual([event.Records[0]?.messageId]);
  });

  it('counts valid records the store never asked for, even after an invalid one', async () => {
    const { deps } = fakeDependencies({
      store: {
        insert: async (rows) => {
          for (const _ of rows) break;
          return { rows: 1, inserted: 1, existing: [], rejected: [], statements: 1 };
        },
      },
    });
    const event = sqsEvent([loginBody(), 'not json', loginBody({ ip: '10.0.0.2' })]);
    await expect(createBatchProcessor(deps)(event)).rejects.toThrow('the store took 1 of 2 rows');
  });

  it("sends the invalid bodies' dead letters while the store is still writing", async () => {
    // Arrange: a store that holds its answer until the test lets it go.
    let finish: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let storeAsked = false;
    const { deps, deadLetter } = fakeDependencies({
      store: {
        insert: async (rows) => {
          const taken = [...rows].length;
          storeAsked = true;
          await held;
          return { rows: taken, inserted: taken, existing: [], rejected: [], statements: 1 };
        },
      },
    });
    const event = sqsEvent([loginBody(), 'not json', loginBody({ ip: '10.0.0.2' })]);
    // Act
    const processed = createBatchProcessor(deps)(event);
    await new Promise((resolve) => setImmediate(resolve));
    // Assert: the dead letter is out before the store answered; the batch then completes.
    expect(storeAsked).toBe(true);
    expect(deadLetter.sent.map((item) => item.reason)).toEqual(['body.not_json']);
    finish();
    expect((await processed).batchItemFailures).toEqual([]);
    expect(deadLetter.sent).toHaveLength(1);
  });

  it('tells the rows it wrote from the rows the store found already there', async () => {
    // Arrange: one record of the batch was stored by an earlier delivery.
    const { deps, summaries } = fakeDependencies();
    const earlier = sqsEvent([loginBody()]);
    await createBatchProcessor(deps)(earlier);
    const again = earlier.Records[0] as (typeof earlier.Records)[number];
    // Act
    const response = await createBatchProcessor(deps)({
      Records: [again, sqsRecord(loginBody({ ip: '10.0.0.3' }))],
    });
    // Assert
    expect(response.batchItemFailures).toEqual([]);
    expect(summaries[1]).toMatchObject({ written: 1, duplicates: 1, deadLettered: 0 });
  });
});
