/**
 * Dependency outages longer than maxReceiveCount x the visibility timeout, in the local
 * drain (npm start's pipeline): no valid record is dead-lettered, lost or written twice, and
 * the backlog drains by itself once the dependency is back. Configuration errors fail loudly.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { peekDeadLetters, REDRIVEN } from '../../lambda/aws/dead-letters';
import { generateLocalKeys, writeKeysFile } from '../../lambda/cli/keys-file';
import { parseLoginEvent } from '../../lambda/core/login-event';
import { startLocalAws } from '../../lambda/local/aws';
import { loadBundle, localContext, type SqsHandler } from '../../lambda/local/bundle';
import { runEventSource } from '../../lambda/local/event-source';
import { generateBodies } from '../../lambda/local/generate';
import { runLocal } from '../../lambda/local/run';
import { startLocalSecretsManager } from '../../lambda/local/secrets-manager';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { sqsClientFor } from '../helpers/queues';
import { loginBody, maskingSecret, sqsEvent } from '../helpers/sqs';
import { proxyDatabase, startTcpProxy } from '../helpers/tcp-proxy';

const env = snapshotEnv();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  env.restore();
});

// Local queue settings: the outage below outlasts maxReceiveCount x visibility (6 s).
const VISIBILITY_S = 2;
const MAX_RECEIVES = 3;
const OUTAGE_MS = 8_000;
const BACKOFF = { baseSeconds: 1, maxSeconds: 10 };

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

const validCount = (bodies: readonly string[]) =>
  bodies.filter((body) => parseLoginEvent(body).ok).length;

async function rowFacts(db: TestDatabase) {
  const { rows } = await db.pool.query(
    'SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS ids FROM user_logins',
  );
  return rows[0] as { n: number; ids: number };
}

describe('a dependency outage longer than maxReceiveCount x visibility', () => {
  it('PostgreSQL cut mid-drain: no valid record dead-lettered, lost or duplicated; drained after recovery', async () => {
    // Arrange: the function reaches PostgreSQL through a link cut once writes are flowing.
    expect(OUTAGE_MS).toBeGreaterThan(MAX_RECEIVES * VISIBILITY_S * 1000);
    const db = await database();
    const { proxy, url: proxied } = await proxyDatabase(db.url);
    cleanups.push(() => proxy.stop());
    const seed = 11;
    const bodies = generateBodies(2_000, { seed });
    let cutAt = 0;
    let restoredAt = 0;
    let waitingAtCut = 0;
    // Act
    const { summary, services } = await runLocal({
      messages: bodies.length,
      seed,
      batchSize: 50,
      concurrency: 2,
      databaseUrl: proxied,
      visibilityTimeout: VISIBILITY_S,
      maxReceiveCount: MAX_RECEIVES,
      backoff: BACKOFF,
      onProgress: (progress) => {
        if (cutAt > 0 || progress.written < 100) return;
        cutAt = Date.now();
        waitingAtCut = progress.total - progress.done;
        void proxy.cut().then(() =>
          setTimeout(() => {
            restoredAt = Date.now();
            void proxy.restore();
          }, OUTAGE_MS),
        );
      },
    });
    cleanups.push(() => services.stop());
    // Assert: the outage happened, lasted, and most of the messages waited it out.
    expect(restoredAt - cutAt).toBeGreaterThanOrEqual(OUTAGE_MS);
    expect(summary.retried).toBeGreaterThan(0);
    expect(waitingAtCut).toBeGreaterThan(bodies.length / 2);
    // Every valid message once, every invalid one dead-lettered by the handler with its reason.
    expect(await rowFacts(db)).toEqual({ n: validCount(bodies), ids: validCount(bodies) });
    // (A delivery that outlived its 2 s visibility may leave a second copy of an invalid
    // body: each source message is in the DLQ, and only invalid ones.)
    const deadIds = new Set(Object.values(summary.deadLetterQueue.messageIds).flat());
    expect(deadIds.size).toBe(bodies.length - validCount(bodies));
    expect(summary.deadLetterQueue.byReason[REDRIVEN]).toBeUndefined();
    expect(summary.deadLetterQueue.byReason['database.rejected']).toBeUndefined();
  });

  it('Secrets Manager unreachable at start: no valid record dead-lettered, lost or duplicated; drained after recovery', async () => {
    // Arrange: queues with the local settings, and a Secrets Manager that is down for the outage.
    const db = await database();
    const aws = await startLocalAws({
      visibilityTimeout: VISIBILITY_S,
      maxReceiveCount: MAX_RECEIVES,
    });
    cleanups.push(() => aws.stop());
    // Secrets Manager behind a link cut for the outage (its port stays ours meanwhile).
    const secrets = await startLocalSecretsManager();
    cleanups.push(() => secrets.stop());
    secrets.put('mask', maskingSecret());
    const link = await startTcpProxy('127.0.0.1', secrets.port);
    cleanups.push(() => link.stop());
    await link.cut();
    const sqs = sqsClientFor(aws.sqsEndpoint);
    const bodies = generateBodies(300, { seed: 5 });
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: aws.queueUrl,
          Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })),
        }),
      );
    }
    const functionEnv = {
      ...aws.awsEnv,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${link.port}`,
      DATABASE_URL: db.url,
      MASKING_SECRET_ID: 'mask',
      DLQ_URL: aws.dlqUrl,
      SOURCE_QUEUE_URL: aws.queueUrl,
      BACKOFF_BASE_SECONDS: String(BACKOFF.baseSeconds),
      BACKOFF_MAX_SECONDS: String(BACKOFF.maxSeconds),
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    };
    await loadBundle<() => Promise<unknown>>(functionEnv, 'migrate')();
    const handlers = [loadBundle(functionEnv), loadBundle(functionEnv)].map(
      (handler) => (event: Parameters<SqsHandler>[0]) => handler(event, localContext()),
    );
    let failedBatches = 0;
    const outage = new Promise<void>((resolve) =>
      setTimeout(() => void link.restore().then(resolve), OUTAGE_MS),
    );
    // Act
    await runEventSource({
      sqs,
      queueUrl: aws.queueUrl,
      queueArn: aws.queueArn,
      batchSize: 50,
      handlers,
      onBatch: (batch) => {
        if (batch.wholeBatchFailed) failedBatches++;
      },
    });
    await outage;
    // Assert
    expect(failedBatches).toBeGreaterThan(0);
    expect(await rowFacts(db)).toEqual({ n: validCount(bodies), ids: validCount(bodies) });
    const dead = await peekDeadLetters(sqs, aws.dlqUrl);
    expect(new Set(Object.values(dead.messageIds).flat()).size).toBe(
      bodies.length - validCount(bodies),
    );
    expect(dead.byReason[REDRIVEN]).toBeUndefined();
  });
});

describe('an SQS connection reset during npm start', () => {
  it('rides through a 1-second cut of the SQS endpoint: every message still gets its fate once', async () => {
    // Arrange: npm start's pipeline reaches SQS (pollers and the function alike) through a link cut mid-drain.
    const db = await database();
    const aws = await startLocalAws({ visibilityTimeout: 5, maxReceiveCount: 5 });
    cleanups.push(() => aws.stop());
    const link = await startTcpProxy('127.0.0.1', Number(new URL(aws.sqsEndpoint).port));
    cleanups.push(() => link.stop());
    const seed = 3;
    const bodies = generateBodies(1_500, { seed });
    const notices: string[] = [];
    let cut = false;
    // Act
    const { summary, services } = await runLocal({
      messages: bodies.length,
      seed,
      batchSize: 25,
      concurrency: 2,
      databaseUrl: db.url,
      sqsEndpoint: `http://127.0.0.1:${link.port}`,
      queueUrl: aws.queueUrl,
      dlqUrl: aws.dlqUrl,
      onNotice: (line) => notices.push(line),
      onProgress: (progress) => {
        if (cut || progress.delivered < 300) return;
        cut = true;
        void link.cut().then(() => setTimeout(() => void link.restore(), 1_000));
      },
    });
    cleanups.push(() => services.stop());
    // Assert
    expect(cut).toBe(true);
    expect(notices.some((line) => /retrying for up to 60 s$/.test(line))).toBe(true);
    expect(await rowFacts(db)).toEqual({ n: validCount(bodies), ids: validCount(bodies) });
    const deadIds = new Set(Object.values(summary.deadLetterQueue.messageIds).flat());
    expect(deadIds.size).toBe(bodies.length - validCount(bodies));
    expect(summary.deadLetterQueue.byReason[REDRIVEN]).toBeUndefined();
  });
});

describe('configuration errors', () => {
  it('a keys file whose ring does not parse ends npm start non-zero with one line naming it, before any change', async () => {
    // Arrange: a keys file (mode 600) whose masking ring names a key it does not hold.
    const db = await database();
    const dir = mkdtempSync(join(tmpdir(), 'login-queue-keys-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const keysFile = join(dir, 'keys.json');
    const keys = generateLocalKeys();
    writeKeysFile(keysFile, {
      ...keys,
      maskingSecret: '{"current": "k9", "k1": "0123456789012345678901234567890123456789012345"}',
    });
    const run = promisify(execFile);
    // Act
    const failure = await run(
      'node',
      [
        '--import',
        'tsx',
        'lambda/local/start.ts',
        '--messages',
        '20',
        '--database-url',
        db.url,
        '--keys-file',
        keysFile,
      ],
      { env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
    ).catch((error: { code: number; stdout: string; stderr: string }) => error);
    // Assert: one line naming the file and the problem; the database was not even migrated.
    expect(failure).toMatchObject({ code: 1 });
    const lines = (failure as { stderr: string }).stderr.trim().split('\n');
    expect(lines.at(-1)).toBe(
      `npm start failed: ${keysFile}: masking secret's current key "k9" is not in the ring`,
    );
    const { rows } = await db.pool.query("SELECT to_regclass('user_logins') AS t");
    expect(rows).toEqual([{ t: null }]);
  });

  it('a database role without the needed grant fails the invocation with a ConfigError naming it', async () => {
    // Arrange: the schema migrated by its owner; the function connects as a role that may not insert.
    const db = await database();
    const aws = await startLocalAws({ maskingSecret: maskingSecret() });
    cleanups.push(() => aws.stop());
    const ownerEnv = {
      ...aws.awsEnv,
      DATABASE_URL: db.url,
      MASKING_SECRET_ID: aws.maskingSecretArn,
      DLQ_URL: aws.dlqUrl,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    };
    await loadBundle<() => Promise<unknown>>(ownerEnv, 'migrate')();
    const role = `lq_reader_${Date.now()}`;
    await db.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'reader'`);
    cleanups.push(() => db.pool.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`));
    await db.pool.query(`GRANT SELECT ON user_logins TO ${role}`);
    const asReader = new URL(db.url);
    asReader.username = role;
    asReader.password = 'reader';
    const handler: SqsHandler = loadBundle({ ...ownerEnv, DATABASE_URL: asReader.toString() });
    // Act
    const outcome = handler(sqsEvent([loginBody(), 'not json']), localContext());
    // Assert: the function fails (Errors alarm); the valid record is neither written nor dead-lettered.
    await expect(outcome).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringContaining('permission denied for table user_logins (SQLSTATE 42501)'),
    });
    expect(await db.count()).toBe(0);
    const dead = await peekDeadLetters(sqsClientFor(aws.sqsEndpoint), aws.dlqUrl);
    expect(dead.byReason).toEqual({ 'body.not_json': 1 });
  });
});
