/**
 * `npm start`'s pipeline end to end over the real SQS protocol: generated data, the
 * take-home environment, and PostgreSQL going away mid-drain. `npm run invoke` as a CLI.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterEach, describe, expect, it } from 'vitest';
import { generateBodies } from '../../lambda/local/generate';
import { type RunSummary, runLocal } from '../../lambda/local/run';
import { parseLoginEvent } from '../../lambda/login-event';
import { REDRIVEN } from '../../lambda/ops/dead-letters';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { takeHomeBodies, takeHomeDdl } from '../helpers/fixtures';
import { sqsClientFor } from '../helpers/queues';
import { startTcpProxy } from '../helpers/tcp-proxy';

const env = snapshotEnv();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  env.restore();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

const validCount = (bodies: readonly string[]) =>
  bodies.filter((body) => parseLoginEvent(body).ok).length;

async function distinctMessageIds(db: TestDatabase): Promise<number> {
  const { rows } = await db.pool.query(
    'SELECT count(DISTINCT message_id)::int AS n FROM user_logins',
  );
  return rows[0].n;
}

function expectNoRedrives(summary: RunSummary): void {
  expect(summary.deadLetterQueue.byReason[REDRIVEN]).toBeUndefined();
}

describe('the local pipeline', () => {
  it('drains generated messages: each valid one written once, each invalid one dead-lettered with its reason', async () => {
    // Arrange
    const db = await database();
    const seed = 42;
    const bodies = generateBodies(400, { seed });
    // Act
    const { summary, services } = await runLocal({
      messages: 400,
      seed,
      batchSize: 50,
      concurrency: 2,
      databaseUrl: db.url,
    });
    cleanups.push(() => services.stop());
    // Assert
    expect(await db.count()).toBe(validCount(bodies));
    expect(await distinctMessageIds(db)).toBe(validCount(bodies));
    expect(summary.deadLetterQueue.total).toBe(400 - validCount(bodies));
    expect(summary.deadLetterQueue.total).toBeGreaterThan(0);
    expectNoRedrives(summary);
    expect(summary).toMatchObject({
      sent: 400,
      retried: 0,
      duplicates: 0,
      written: validCount(bodies),
    });
    expect(summary.repeatedIps).toBeGreaterThan(0);
    expect(summary.repeatedDevices).toBeGreaterThan(0);
  });

  it("drains the take-home environment's queue into its pre-created table", async ({ skip }) => {
    // Arrange: an SQS endpoint standing in for LocalStack with login-queue (no DLQ) holding
    // the 100 take-home messages, and a database whose table comes from the take-home DDL.
    const sqsServer = await startFauxqs({ port: 0, logger: false });
    cleanups.push(() => sqsServer.stop());
    const { queueUrl } = sqsServer.createQueue('login-queue');
    const sqs = sqsClientFor(sqsServer.address);
    const bodies = takeHomeBodies(skip);
    for (let i = 0; i < bodies.length; i += 10) {
      const entries = bodies
        .slice(i, i + 10)
        .map((body, j) => ({ Id: String(j), MessageBody: body }));
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    }
    const db = await database();
    await db.pool.query(takeHomeDdl(skip));
    // Act
    const { summary, services } = await runLocal({
      messages: 0,
      batchSize: 10,
      concurrency: 2,
      sqsEndpoint: sqsServer.address,
      queueUrl,
      databaseUrl: db.url,
    });
    cleanups.push(() => services.stop());
    // Assert
    expect(await db.count()).toBe(99);
    expect(summary.deadLetterQueue.byReason).toEqual({ 'user_id.missing': 1 });
    expect(services.dlqUrl).toMatch(/login-queue-dlq$/);
    const { rows } = await db.pool.query(
      "SELECT data_type FROM information_schema.columns WHERE table_name = 'user_logins' AND column_name = 'app_version'",
    );
    expect(rows[0].data_type).toBe('integer');
  });

  it('retries while PostgreSQL is gone mid-drain, then lands every valid message exactly once', async () => {
    // Arrange: the pipeline reaches PostgreSQL through a link we cut once writes are flowing.
    const db = await database();
    const direct = new URL(db.url);
    const proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
    cleanups.push(() => proxy.stop());
    const proxied = new URL(db.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const seed = 7;
    const bodies = generateBodies(1500, { seed });
    let cut = false;
    // Act
    const { summary, services } = await runLocal({
      messages: 1500,
      seed,
      batchSize: 25,
      concurrency: 2,
      databaseUrl: proxied.toString(),
      visibilityTimeout: 1,
      maxReceiveCount: 50,
      onProgress: (progress) => {
        if (cut || progress.written < 200) return;
        cut = true;
        void proxy.cut().then(() => setTimeout(() => void proxy.restore(), 1500));
      },
    });
    cleanups.push(() => services.stop());
    // Assert
    expect(cut).toBe(true);
    expect(summary.retried).toBeGreaterThan(0);
    expect(await db.count()).toBe(validCount(bodies));
    expect(await distinctMessageIds(db)).toBe(validCount(bodies));
    expect(summary.deadLetterQueue.total).toBe(1500 - validCount(bodies));
    expectNoRedrives(summary);
  });
});

describe('npm run invoke', () => {
  const run = promisify(execFile);
  const invoke = (args: string[], extraEnv: Record<string, string>) =>
    run('node', ['--import', 'tsx', 'lambda/local/invoke.ts', ...args], {
      env: {
        ...process.env,
        ...extraEnv,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });

  it('prints an SQSBatchResponse naming the invalid records of the mixed example', async () => {
    const db = await database();
    const { stdout } = await invoke(['--event', 'lambda/local/events/mixed-batch.json'], {
      DATABASE_URL: db.url,
    });
    expect(JSON.parse(stdout)).toEqual({
      batchItemFailures: [
        { itemIdentifier: '9d0c2b1e-5a77-4c1d-8e0f-0b6c3d2e1f01' },
        { itemIdentifier: '9d0c2b1e-5a77-4c1d-8e0f-0b6c3d2e1f02' },
        { itemIdentifier: '9d0c2b1e-5a77-4c1d-8e0f-0b6c3d2e1f03' },
      ],
    });
    expect(await db.count()).toBe(2);
  });

  it('reads a SAM env-vars file and exits non-zero when the function fails to start', async () => {
    const db = await database();
    const file = join(tmpdir(), `env-${process.pid}.json`);
    writeFileSync(
      file,
      JSON.stringify({ LoginQueueFunction: { DATABASE_URL: db.url, DB_QUERY_TIMEOUT_MS: 'soon' } }),
    );
    const failure = await invoke(
      ['--event', 'lambda/local/events/valid-batch.json', '--env-vars', file],
      {},
    ).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain(
      'DB_QUERY_TIMEOUT_MS must be an integer',
    );
  });
});
