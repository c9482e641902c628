import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../lambda/local/aws';
import { loadBundle, localContext, type SqsHandler } from '../../lambda/local/bundle';
import { startLocalSecretsManager } from '../../lambda/local/secrets-manager';
import type { TestDatabase } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { takeHomeBodies } from '../helpers/fixtures';
import { type Pipeline, startPipeline } from '../helpers/pipeline';
import { drainVisible, sqsClientFor } from '../helpers/queues';
import { loginBody, maskingSecret, sqsEvent } from '../helpers/sqs';
import { proxyDatabase, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

const env = snapshotEnv();
let pipeline: Pipeline;
let db: TestDatabase;
let aws: LocalAws;
let proxy: TcpProxy;
let baseEnv: Record<string, string>;

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  // The function reaches PostgreSQL through a proxy whose link the tests can cut.
  pipeline = await startPipeline(async (writer) => {
    const proxied = await proxyDatabase(writer.url);
    proxy = proxied.proxy;
    return { DATABASE_URL: proxied.url };
  });
  ({ db, aws, env: baseEnv } = pipeline);
});

afterAll(async () => {
  await Promise.all([pipeline?.stop(), proxy?.stop()]);
  env.restore();
});

beforeEach(() => pipeline.reset());

describe('database gone mid-batch', () => {
  it('fails the invocation for every valid record, then lands each exactly once on redelivery', async ({
    skip,
  }) => {
    // Arrange: the write will block on a lock we hold, so the link is cut mid-statement.
    const handler: SqsHandler = loadBundle(baseEnv);
    const event = sqsEvent(takeHomeBodies(skip));
    const validIds = event.Records.filter((_, i) => i !== 12)
      .map((record) => record.messageId)
      .sort();
    const locker = await db.pool.connect();
    await locker.query('BEGIN; LOCK TABLE user_logins IN ACCESS EXCLUSIVE MODE');
    try {
      // Act
      const pending = handler(event, localContext());
      await until(async () => {
        const { rows } = await db.pool.query(
          "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ~ '^(COPY|INSERT INTO) user_logins'",
        );
        return rows.length > 0;
      });
      await proxy.cut();
      // Assert: nothing lost: the invocation fails, so every record goes back to the queue
      // (the invalid one was dead-lettered and is deleted by the handler itself).
      await expect(pending).rejects.toMatchObject({
        name: 'TransientError',
        message: expect.stringContaining(`(${validIds.length} records back off)`),
      });
    } finally {
      // The orphaned server-side INSERT may still commit once the lock is gone.
      await locker.query('COMMIT');
      locker.release();
      await proxy.restore();
    }
    const redelivered = await handler(
      { Records: event.Records.filter((record) => validIds.includes(record.messageId)) },
      localContext(),
    );
    expect(redelivered).toEqual({ batchItemFailures: [] });
    expect(await db.count()).toBe(99);
    const { rows } = await db.pool.query(
      'SELECT count(DISTINCT message_id)::int AS n FROM user_logins',
    );
    expect(rows[0].n).toBe(99);
  });

  it('fails the batch while the database is unreachable, and writes it once it is back', async () => {
    const handler: SqsHandler = loadBundle(baseEnv);
    const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.2' })]);
    await proxy.cut();
    try {
      await expect(handler(event, localContext())).rejects.toThrow('(2 records back off)');
    } finally {
      await proxy.restore();
    }
    expect(await handler(event, localContext())).toEqual({ batchItemFailures: [] });
    expect(await db.count()).toBe(2);
  });
});

describe('a dropped idle connection (as after a Lambda freeze)', () => {
  it('is replaced without failing the next batch', async () => {
    // Arrange: one batch opens the container's connection; the server then kills it.
    const handler: SqsHandler = loadBundle(baseEnv);
    await handler(sqsEvent([loginBody()]), localContext());
    const { rows } = await db.pool.query(
      "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'login-queue' AND datname = current_database()",
    );
    expect(rows.length).toBeGreaterThan(0);
    // Act
    const response = await handler(sqsEvent([loginBody({ ip: '10.0.0.9' })]), localContext());
    // Assert
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await db.count()).toBe(2);
  });
});

describe('Secrets Manager down', () => {
  it('fails the batch, then writes it when the key can be read again', async () => {
    // Arrange: Secrets Manager behind a link we cut (its port stays ours meanwhile).
    const secrets = await startLocalSecretsManager();
    const arn = secrets.put('mask', maskingSecret());
    const link = await startTcpProxy('127.0.0.1', secrets.port);
    try {
      const handler: SqsHandler = loadBundle({
        ...baseEnv,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${link.port}`,
        MASKING_SECRET_ID: arn,
      });
      const event = sqsEvent([loginBody(), loginBody({ ip: '10.0.0.2' }), 'not json']);
      await link.cut();
      await expect(handler(event, localContext())).rejects.toMatchObject({
        name: 'TransientError',
        message: expect.stringContaining('(2 records back off)'),
      });
      expect(await db.count()).toBe(0);
      await link.restore();
      const retry = await handler({ Records: event.Records.slice(0, 2) }, localContext());
      expect(retry).toEqual({ batchItemFailures: [] });
      expect(await db.count()).toBe(2);
    } finally {
      await link.stop();
      await secrets.stop();
    }
  });
});

describe('a row PostgreSQL rejects', () => {
  it('is dead-lettered alone while its neighbours are written in the same batch', async () => {
    // Arrange: a constraint the validator knows nothing about.
    await db.pool.query(
      "ALTER TABLE user_logins ADD CONSTRAINT no_poison CHECK (user_id <> 'poison')",
    );
    try {
      const handler: SqsHandler = loadBundle(baseEnv);
      const bodies = Array.from({ length: 9 }, (_, i) => loginBody({ user_id: `user-${i}` }));
      bodies.splice(4, 0, loginBody({ user_id: 'poison' }));
      const event = sqsEvent(bodies);
      // Act
      const response = await handler(event, localContext());
      // Assert
      expect(response).toEqual({ batchItemFailures: [] });
      expect(await db.count()).toBe(9);
      const dead = await drainVisible(sqsClientFor(aws.sqsEndpoint), aws.dlqUrl);
      expect(dead.map((m) => m.MessageAttributes?.SourceMessageId?.StringValue)).toEqual([
        event.Records[4]?.messageId,
      ]);
      expect(dead[0]?.MessageAttributes?.DeadLetterReason?.StringValue).toBe('database.rejected');
      expect(dead[0]?.MessageAttributes?.DeadLetterDetail?.StringValue).toBe(
        'SQLSTATE 23514 (no_poison)',
      );
    } finally {
      await db.pool.query('ALTER TABLE user_logins DROP CONSTRAINT no_poison');
    }
  });
});

describe('an invalid body at the maximum message size', () => {
  it('is dead-lettered with the attributes that fit, exactly at the limit and at the limit with the reason', async () => {
    // Arrange: the DLQ's maximum (1 MiB); one body exactly that size, one that fits with the reason alone.
    const handler: SqsHandler = loadBundle(baseEnv);
    const limit = 1_048_576;
    const reasonBytes = 'DeadLetterReason'.length + 'String'.length + 'body.not_json'.length;
    const atLimit = `{${'x'.repeat(limit - 1)}`;
    const withReason = `[${'y'.repeat(limit - reasonBytes - 1)}`;
    const event = sqsEvent([atLimit, withReason]);
    // Act
    const response = await handler(event, localContext());
    // Assert: both have a fate (never retried forever); the reason rides along where it fits.
    expect(response).toEqual({ batchItemFailures: [] });
    const dead = await drainVisible(sqsClientFor(aws.sqsEndpoint), aws.dlqUrl);
    const bySize = Object.fromEntries(
      dead.map((m) => [Buffer.byteLength(m.Body ?? ''), Object.keys(m.MessageAttributes ?? {})]),
    );
    expect(bySize).toEqual({
      [limit]: [],
      [limit - reasonBytes]: ['DeadLetterReason'],
    });
  });
});
