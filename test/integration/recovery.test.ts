/**
 * After day one: recovering PII under control, rotating the masking key, redriving the DLQ.
 * The shipped bundle writes; the operator code under test reads and rewrites.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { peekDeadLetters, previewRedrive, redrive } from '../../lambda/aws/dead-letters';
import { parseKeyRing } from '../../lambda/core/key-ring';
import {
  generateRecoveryKeyPair,
  parseRecoveryRing,
  RecoveryError,
} from '../../lambda/core/recovery';
import { signMarker } from '../../lambda/core/redrive-marker';
import type { LocalAws } from '../../lambda/local/aws';
import { localContext, type SqsHandler } from '../../lambda/local/bundle';
import { runEventSource } from '../../lambda/local/event-source';
import { recoverToken } from '../../lambda/ops/recover';
import { previewRekey, rekey } from '../../lambda/ops/rekey';
import type { TestDatabase } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { type Pipeline, startPipeline } from '../helpers/pipeline';
import { sqsClientFor } from '../helpers/queues';
import { loginBody, maskingSecret, sqsEvent } from '../helpers/sqs';

const env = snapshotEnv();
const recovery = generateRecoveryKeyPair('r1');
const recoveryRing = parseRecoveryRing(recovery.secret);
const MASKING_SECRET_NAME = 'login-queue/masking-key';
let pipeline: Pipeline;
let db: TestDatabase;
let aws: LocalAws;
let handler: SqsHandler;

beforeAll(async () => {
  pipeline = await startPipeline(() => ({
    MASKING_KEY_TTL_SECONDS: '0',
    RECOVERY_PUBLIC_KEY: recovery.publicKey,
  }));
  ({ db, aws, handler } = pipeline);
});

afterAll(async () => {
  await pipeline?.stop();
  env.restore();
});

beforeEach(async () => {
  aws.secretsManager.put(MASKING_SECRET_NAME, maskingSecret('k1'));
  await pipeline.reset();
  await db.pool.query('TRUNCATE pii_recovery_audit');
});

const tokenOf = async (column: 'masked_ip' | 'masked_device_id', userId: string) =>
  (await db.pool.query(`SELECT ${column} AS t FROM user_logins WHERE user_id = $1`, [userId]))
    .rows[0].t as string;

describe('recovering PII', () => {
  it('turns a token back into its value with the recovery key, and audits who, when, which token and why', async () => {
    // Arrange
    await handler(
      sqsEvent([loginBody({ user_id: 'alice', ip: '203.0.113.9', device_id: 'dev-alice' })]),
      localContext(),
    );
    const ipToken = await tokenOf('masked_ip', 'alice');
    const deviceToken = await tokenOf('masked_device_id', 'alice');
    // Act
    const ip = await recoverToken(db.pool, ipToken, recoveryRing, {
      operator: 'ops-1',
      reason: 'fraud case 42',
    });
    const device = await recoverToken(db.pool, deviceToken, recoveryRing, {
      operator: 'ops-1',
      reason: 'fraud case 42',
    });
    // Assert
    expect([ip.field, ip.value, device.field, device.value]).toEqual([
      'ip',
      '203.0.113.9',
      'device_id',
      'dev-alice',
    ]);
    const { rows } = await db.pool.query(
      'SELECT operator, token, field, reason, at FROM pii_recovery_audit ORDER BY id',
    );
    expect(rows.map((r) => [r.operator, r.token, r.field, r.reason])).toEqual([
      ['ops-1', ipToken, 'ip', 'fraud case 42'],
      ['ops-1', deviceToken, 'device_id', 'fraud case 42'],
    ]);
    expect(JSON.stringify(rows)).not.toContain('203.0.113.9');
  });

  it('fails with a clear error under the wrong recovery key', async () => {
    await handler(sqsEvent([loginBody({ user_id: 'bob' })]), localContext());
    const token = await tokenOf('masked_ip', 'bob');
    const wrong = parseRecoveryRing(generateRecoveryKeyPair('r1').secret);
    const missing = parseRecoveryRing(generateRecoveryKeyPair('r9').secret);
    await expect(
      recoverToken(db.pool, token, wrong, { operator: 'x', reason: 'y' }),
    ).rejects.toThrow('the recovery key does not open this value');
    await expect(
      recoverToken(db.pool, token, missing, { operator: 'x', reason: 'y' }),
    ).rejects.toThrow('sealed for recovery key "r1", which the given key ring does not hold');
    await expect(
      recoverToken(db.pool, 'k1:unknown', recoveryRing, { operator: 'x', reason: 'y' }),
    ).rejects.toBeInstanceOf(RecoveryError);
    expect(
      (await db.pool.query('SELECT count(*)::int AS n FROM pii_recovery_audit')).rows[0].n,
    ).toBe(0);
  });

  it('keeps the sealed data from an analyst role, which still reads every other column', async () => {
    await handler(sqsEvent([loginBody({ user_id: 'carol' })]), localContext());
    const client = await db.pool.connect();
    try {
      await client.query('SET ROLE login_queue_analyst');
      await expect(client.query('SELECT pii_sealed FROM user_logins')).rejects.toMatchObject({
        code: '42501',
      });
      await expect(client.query('SELECT * FROM user_logins')).rejects.toMatchObject({
        code: '42501',
      });
      const { rows } = await client.query('SELECT user_id, masked_ip FROM user_logins_analytics');
      expect(rows).toHaveLength(1);
      await expect(client.query('SELECT count(*) FROM pii_recovery_audit')).rejects.toMatchObject({
        code: '42501',
      });
      await client.query('RESET ROLE');
      await client.query('SET ROLE login_queue_recovery');
      expect(
        (await client.query('SELECT pii_sealed FROM user_logins')).rows[0].pii_sealed,
      ).toBeInstanceOf(Buffer);
    } finally {
      await client.query('RESET ROLE');
      client.release();
    }
  });
});

describe('npm run unmask', () => {
  it('prints the value on stdout and an audit line without it on stderr', async () => {
    await handler(sqsEvent([loginBody({ user_id: 'dave', ip: '192.0.2.44' })]), localContext());
    const token = await tokenOf('masked_ip', 'dave');
    const { stdout, stderr } = await promisify(execFile)(
      'node',
      [
        '--import',
        'tsx',
        'lambda/cli/unmask.ts',
        token,
        '--reason',
        'legal request 7',
        '--operator',
        'ops-2',
      ],
      { env: { ...process.env, DATABASE_URL: db.url, RECOVERY_SECRET: recovery.secret } },
    );
    expect(stdout).toBe('192.0.2.44\n');
    const audit = JSON.parse(stderr.trim().split('\n').pop() ?? '{}');
    expect(audit).toMatchObject({
      audit: 'unmask',
      operator: 'ops-2',
      token,
      reason: 'legal request 7',
      outcome: 'recovered',
      field: 'ip',
    });
    expect(stderr).not.toContain('192.0.2.44');
  });
});

describe('rotating the masking key', () => {
  it('re-keys older rows in bounded, resumable batches so duplicates stay identifiable', async () => {
    // Arrange: the same ip and device before and after a rotation from k1 to k2.
    const shared = { ip: '198.51.100.77', device_id: 'shared-dev' };
    await handler(
      sqsEvent(['a1', 'a2', 'a3'].map((u) => loginBody({ ...shared, user_id: u }))),
      localContext(),
    );
    const rotated = JSON.stringify({
      ...JSON.parse(maskingSecret('k1')),
      ...JSON.parse(maskingSecret('k2')),
      current: 'k2',
    });
    aws.secretsManager.put(MASKING_SECRET_NAME, rotated);
    await handler(
      sqsEvent(['b1', 'b2'].map((u) => loginBody({ ...shared, user_id: u }))),
      localContext(),
    );
    const distinct = async () =>
      (
        await db.pool.query(
          'SELECT count(DISTINCT masked_ip)::int AS ips, count(DISTINCT key_id)::int AS keys FROM user_logins',
        )
      ).rows[0];
    expect(await distinct()).toEqual({ ips: 2, keys: 2 });
    const tokens = async () =>
      (await db.pool.query('SELECT message_id, key_id, masked_ip FROM user_logins ORDER BY 1'))
        .rows;
    const before = await tokens();
    const preview = await previewRekey(db.pool, 'k2', recoveryRing);
    expect(preview).toEqual({
      dryRun: true,
      byKeyId: { k1: 3 },
      rows: 3,
      withoutRecoveryData: 0,
      missingRecoveryKeys: [],
    });
    // Without the recovery key the rows were sealed with, the preview says the run would fail.
    expect((await previewRekey(db.pool, 'k2', new Map())).missingRecoveryKeys).toEqual(['r1']);
    expect(await tokens()).toEqual(before);
    // Act
    const result = await rekey(db.pool, parseKeyRing(rotated), recoveryRing, { batchSize: 2 });
    // Assert
    expect(result).toEqual({ rekeyed: 3, batches: 2, withoutRecoveryData: 0 });
    expect(await distinct()).toEqual({ ips: 1, keys: 1 });
    const again = await rekey(db.pool, parseKeyRing(rotated), recoveryRing, { batchSize: 2 });
    expect(again.rekeyed).toBe(0);
    const token = await tokenOf('masked_ip', 'a1');
    expect(
      (await recoverToken(db.pool, token, recoveryRing, { operator: 'o', reason: 'r' })).value,
    ).toBe(shared.ip);
  });

  it('leaves rows without recovery data on their key and reports them', async () => {
    await db.pool.query(
      "INSERT INTO user_logins (user_id, device_type, masked_ip, masked_device_id, app_version, create_date) VALUES ('legacy', 'ios', 'old', 'old', 1, '2020-01-01')",
    );
    const result = await rekey(db.pool, parseKeyRing(maskingSecret('k2')), recoveryRing);
    expect(result).toMatchObject({ rekeyed: 0, withoutRecoveryData: 1 });
  });
});

describe('dead-letter queue', () => {
  it('redrives every dead letter exactly once, and the fixed messages then land', async () => {
    // Arrange: a constraint the data breaks sends three rows to the DLQ with their reason.
    await db.pool.query(
      "ALTER TABLE user_logins ADD CONSTRAINT no_beta CHECK (device_type <> 'beta')",
    );
    const bodies = [
      ...['p1', 'p2', 'p3'].map((u) => loginBody({ user_id: u, device_type: 'beta' })),
      loginBody({ user_id: 'ok' }),
    ];
    await handler(sqsEvent(bodies), localContext());
    const sqs = sqsClientFor(aws.sqsEndpoint);
    const peek = await peekDeadLetters(sqs, aws.dlqUrl);
    expect(peek.byReason).toEqual({ 'database.rejected': 3 });
    // Act: the fix, then the redrive.
    await db.pool.query('ALTER TABLE user_logins DROP CONSTRAINT no_beta');
    const dlqArn = aws.queueArn.replace(/login-queue$/, 'login-queue-dlq');
    const target = { dlqUrl: aws.dlqUrl, dlqArn, queueUrl: aws.queueUrl, queueArn: aws.queueArn };
    const result = await redrive(sqs, target);
    // Assert: moved once each, with the id they were first sent under.
    expect(result).toEqual({ method: 'receive-send-delete', moved: 3, duplicatesDropped: 0 });
    expect((await peekDeadLetters(sqs, aws.dlqUrl)).total).toBe(0);
    expect(await redrive(sqs, target)).toEqual({
      method: 'receive-send-delete',
      moved: 0,
      duplicatesDropped: 0,
    });
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        VisibilityTimeout: 0,
      }),
    );
    const sourceIds = Messages.map((m) => m.MessageAttributes?.SourceMessageId?.StringValue).sort();
    expect(sourceIds).toEqual([...(peek.messageIds['database.rejected'] ?? [])].sort());
    await runEventSource({
      sqs,
      queueUrl: aws.queueUrl,
      queueArn: aws.queueArn,
      batchSize: 10,
      handlers: [(event) => handler(event, localContext())],
    });
    expect(await db.count()).toBe(4);
    const { rows } = await db.pool.query(
      'SELECT message_id FROM user_logins WHERE user_id LIKE $1 ORDER BY 1',
      ['p%'],
    );
    expect(rows.map((r) => r.message_id)).toEqual(sourceIds);
  });

  it('ignores a second copy of a redriven message (a delete that failed after the send)', async () => {
    const [record] = sqsEvent([loginBody({ user_id: 'twice' })]).Records;
    if (record === undefined) throw new Error('no record');
    const text = (stringValue: string) => ({
      dataType: 'String',
      stringValue,
      stringListValues: [],
      binaryListValues: [],
    });
    const marker = signMarker(parseKeyRing(maskingSecret('k1')).current, 'first-id');
    const copy = (id: string) => ({
      ...record,
      messageId: id,
      messageAttributes: {
        SourceMessageId: text('first-id'),
        SourceMessageSignature: text(marker),
      },
    });
    await handler({ Records: [copy('copy-1')] }, localContext());
    await handler({ Records: [copy('copy-2')] }, localContext());
    expect(await db.count()).toBe(1);
  });

  describe('across a month boundary (create_date is half of the row key)', () => {
    const text = (stringValue: string) => ({
      dataType: 'String',
      stringValue,
      stringListValues: [],
      binaryListValues: [],
    });
    // The last minute of this month, and the first of the next: two partitions.
    const now = new Date();
    const firstSent = String(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - 60_000);
    const redrivenAt = String(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1, 0, 1));
    const redriveOf = (attributes: Record<string, string>) => {
      const [record] = sqsEvent([loginBody({ user_id: 'late' })]).Records;
      if (record === undefined) throw new Error('no record');
      return {
        ...record,
        messageId: 'redriven-copy',
        attributes: { ...record.attributes, SentTimestamp: redrivenAt },
        messageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([name, value]) => [name, text(value)]),
        ),
      };
    };
    const writeFirst = async () => {
      const [record] = sqsEvent([loginBody({ user_id: 'late' })]).Records;
      if (record === undefined) throw new Error('no record');
      await handler(
        {
          Records: [
            {
              ...record,
              messageId: 'first-send',
              attributes: { ...record.attributes, SentTimestamp: firstSent },
            },
          ],
        },
        localContext(),
      );
    };
    const rows = async () =>
      (
        await db.pool.query(
          "SELECT message_id, create_date::text AS d, tableoid::regclass::text AS p FROM user_logins WHERE user_id = 'late' ORDER BY 1",
        )
      ).rows;

    it('a redrive written in the next month keeps the first send date, so it is a duplicate, not a second row', async () => {
      // Arrange: written on the month's last day; its delete failed, the redrive policy moved
      // it, and `npm run redrive` sent it back the next month with its signed first send time.
      await writeFirst();
      const key = parseKeyRing(maskingSecret('k1')).current;
      // Act
      await handler(
        {
          Records: [
            redriveOf({
              SourceMessageId: 'first-send',
              SourceSentTimestamp: firstSent,
              SourceMessageSignature: signMarker(key, 'first-send', firstSent),
            }),
          ],
        },
        localContext(),
      );
      // Assert
      const stored = await rows();
      expect(stored).toHaveLength(1);
      expect(stored[0]?.d).toBe(new Date(Number(firstSent)).toISOString().slice(0, 10));
    });

    it('ignores a forged SourceSentTimestamp: the message is stored as a new one under its own id and date', async () => {
      await writeFirst();
      const key = parseKeyRing(maskingSecret('k1')).current;
      await handler(
        {
          Records: [
            redriveOf({
              SourceMessageId: 'first-send',
              SourceSentTimestamp: redrivenAt, // changed after signing
              SourceMessageSignature: signMarker(key, 'first-send', firstSent),
            }),
          ],
        },
        localContext(),
      );
      expect((await rows()).map((row) => row.message_id)).toEqual(['first-send', 'redriven-copy']);
    });

    it('redrive signs the first send time of a message the redrive policy moved, and the handler stores it once', async () => {
      // Arrange: the row is written, then the message lands in the DLQ unmarked (as the redrive
      // policy moves it, keeping its id and SentTimestamp).
      const sqs = sqsClientFor(aws.sqsEndpoint);
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: aws.dlqUrl,
          Entries: [{ Id: 'moved', MessageBody: loginBody({ user_id: 'late' }) }],
        }),
      );
      const [moved] =
        (
          await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: aws.dlqUrl,
              MessageSystemAttributeNames: ['SentTimestamp'],
              VisibilityTimeout: 0,
            }),
          )
        ).Messages ?? [];
      const [record] = sqsEvent([loginBody({ user_id: 'late' })]).Records;
      if (moved?.MessageId === undefined || record === undefined) throw new Error('no message');
      const sent = moved.Attributes?.SentTimestamp ?? '';
      await handler(
        {
          Records: [
            {
              ...record,
              messageId: moved.MessageId,
              attributes: { ...record.attributes, SentTimestamp: sent },
            },
          ],
        },
        localContext(),
      );
      // Act
      const key = parseKeyRing(maskingSecret('k1')).current;
      const dlqArn = aws.queueArn.replace(/login-queue$/, 'login-queue-dlq');
      const target = { dlqUrl: aws.dlqUrl, dlqArn, queueUrl: aws.queueUrl, queueArn: aws.queueArn };
      const result = await redrive(sqs, target, {
        sign: (id, at) => signMarker(key, id, at),
      });
      const [back] =
        (
          await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: aws.queueUrl,
              MessageAttributeNames: ['All'],
              VisibilityTimeout: 0,
            }),
          )
        ).Messages ?? [];
      // Assert: sent back by receive-send-delete (a move task would give it a new id and
      // time), carrying the first id and send time under a marker that covers both.
      expect(result.method).toBe('receive-send-delete');
      expect(back?.MessageAttributes?.SourceMessageId?.StringValue).toBe(moved.MessageId);
      expect(back?.MessageAttributes?.SourceSentTimestamp?.StringValue).toBe(sent);
      await runEventSource({
        sqs,
        queueUrl: aws.queueUrl,
        queueArn: aws.queueArn,
        batchSize: 10,
        handlers: [(event) => handler(event, localContext())],
      });
      expect(await rows()).toHaveLength(1);
    });
  });

  it('reports two copies of one dead letter and redrives one; a producer-set SourceMessageId merges nothing', async () => {
    // Arrange: one invalid message dead-lettered twice (a crash before its delete), and two
    // producer messages that both claim one SourceMessageId without a marker.
    await handler(sqsEvent(['not json']), localContext());
    const sqs = sqsClientFor(aws.sqsEndpoint);
    const [dead] =
      (
        await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: aws.dlqUrl,
            MessageAttributeNames: ['All'],
            VisibilityTimeout: 0,
          }),
        )
      ).Messages ?? [];
    const claim = { SourceMessageId: { DataType: 'String', StringValue: 'claimed' } };
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: aws.dlqUrl,
        Entries: [
          { Id: 'copy', MessageBody: dead?.Body, MessageAttributes: dead?.MessageAttributes },
          { Id: 'p1', MessageBody: 'producer one', MessageAttributes: claim },
          { Id: 'p2', MessageBody: 'producer two', MessageAttributes: claim },
        ],
      }),
    );
    const sourceId = dead?.MessageAttributes?.SourceMessageId?.StringValue as string;
    // Act
    const peek = await peekDeadLetters(sqs, aws.dlqUrl);
    const preview = await previewRedrive(sqs, aws.dlqUrl);
    const dlqArn = aws.queueArn.replace(/login-queue$/, 'login-queue-dlq');
    const result = await redrive(sqs, {
      dlqUrl: aws.dlqUrl,
      dlqArn,
      queueUrl: aws.queueUrl,
      queueArn: aws.queueArn,
    });
    // Assert
    expect(peek.total).toBe(4);
    expect(peek.duplicates).toEqual({ [sourceId]: 2 });
    expect(result).toMatchObject({ moved: 3, duplicatesDropped: 1 });
    // The dry run counted what the redrive then moved, and left all four visible for it.
    expect(preview).toMatchObject({ messages: 4, wouldMove: 3, copies: 1 });
    const back = (
      await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: aws.queueUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          VisibilityTimeout: 0,
        }),
      )
    ).Messages;
    expect(back?.map((m) => m.Body).sort()).toEqual(['not json', 'producer one', 'producer two']);
    // The pipeline's marker rides along; the producers' unverifiable claim does not.
    const moved = back?.find((m) => m.Body === 'not json');
    expect(moved?.MessageAttributes?.SourceMessageSignature?.StringValue).toMatch(/^k1:/);
    expect(back?.find((m) => m.Body === 'producer one')?.MessageAttributes).toBeUndefined();
  });

  it("does not let a producer suppress a message by naming an existing row's id in SourceMessageId", async () => {
    // Arrange: a stored row, then a producer's message claiming its id (no marker, or a made-up one).
    const [first] = sqsEvent([loginBody({ user_id: 'victim' })]).Records;
    if (first === undefined) throw new Error('no record');
    await handler({ Records: [first] }, localContext());
    const claim = (marker?: string) => ({
      SourceMessageId: {
        dataType: 'String',
        stringValue: first.messageId,
        stringListValues: [],
        binaryListValues: [],
      },
      ...(marker
        ? {
            SourceMessageSignature: {
              dataType: 'String',
              stringValue: marker,
              stringListValues: [],
              binaryListValues: [],
            },
          }
        : {}),
    });
    const forged = sqsEvent([
      loginBody({ user_id: 'p1' }),
      loginBody({ user_id: 'p2' }),
    ]).Records.map((record, i) => ({
      ...record,
      messageAttributes: claim(i === 0 ? undefined : `k1:${'x'.repeat(43)}`),
    }));
    // Act
    const response = await handler({ Records: forged }, localContext());
    // Assert: both are written under their own ids.
    expect(response).toEqual({ batchItemFailures: [] });
    const { rows } = await db.pool.query('SELECT user_id, message_id FROM user_logins ORDER BY 1');
    expect(rows).toEqual([
      { user_id: 'p1', message_id: forged[0]?.messageId },
      { user_id: 'p2', message_id: forged[1]?.messageId },
      { user_id: 'victim', message_id: first.messageId },
    ]);
  });
});
