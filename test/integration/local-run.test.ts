/**
 * `npm start`'s pipeline end to end over the real SQS protocol: generated data, the
 * take-home environment, and PostgreSQL going away mid-drain. `npm run invoke` as a CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListQueuesCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterEach, describe, expect, it } from 'vitest';
import { REDRIVEN } from '../../lambda/aws/dead-letters';
import { generateLocalKeys, readKeysFile } from '../../lambda/cli/keys-file';
import { WRITER_ROLE } from '../../lambda/contract/roles';
import { UnreachableError } from '../../lambda/core/errors';
import { parseLoginEvent } from '../../lambda/core/login-event';
import { withClient } from '../../lambda/db/pool';
import { startLocalAws } from '../../lambda/local/aws';
import { generateBodies } from '../../lambda/local/generate';
import { type Progress, type RunSummary, runLocal } from '../../lambda/local/run';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { takeHomeBodies, takeHomeDdl } from '../helpers/fixtures';
import { sqsClientFor } from '../helpers/queues';
import { proxyDatabase, startTcpProxy } from '../helpers/tcp-proxy';

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

/** An SQS endpoint in front of `target` that fails every CreateQueue call. */
async function refuseCreateQueue(target: string) {
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (String(request.headers['x-amz-target']).endsWith('.CreateQueue')) {
      response.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify({ __type: 'InternalError', message: 'create refused' }));
      return;
    }
    const reply = await fetch(`${target}${request.url}`, {
      method: request.method,
      headers: request.headers as Record<string, string>,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    response.writeHead(reply.status, Object.fromEntries(reply.headers));
    response.end(Buffer.from(await reply.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let keyFiles = 0;
/** A keys file path that does not exist yet, in a directory removed after the test. */
function keysPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'login-queue-test-keys-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, `keys-${keyFiles++}.json`);
}

async function tables(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
  );
  return rows.map((row) => row.table_name);
}

const validCount = (bodies: readonly string[]) =>
  bodies.filter((body) => parseLoginEvent(body).ok).length;

async function rowIds(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>('SELECT message_id AS id FROM user_logins');
  return rows.map((row) => row.id);
}

/** The invalid bodies by the reason the handler gives them. */
function invalidByReason(bodies: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const body of bodies) {
    const parsed = parseLoginEvent(body);
    if (!parsed.ok) counts[parsed.rejection.reason] = (counts[parsed.rejection.reason] ?? 0) + 1;
  }
  return counts;
}

/**
 * What SQS's at-least-once delivery guarantees of a drain, whatever the load: every valid
 * message is one row (none twice), and every invalid one is in the DLQ under its reason at
 * least once. A delivery that outlives its visibility timeout is delivered again: a second
 * dead-letter copy of an invalid message, a duplicate of a valid one, and after
 * maxReceiveCount such deliveries a copy the redrive policy moved. Such copies are counted
 * apart; a moved message must also have its fate (a row or a reasoned dead letter).
 */
async function expectEachMessageItsFate(
  db: TestDatabase,
  bodies: readonly string[],
  summary: RunSummary,
): Promise<void> {
  const written = await rowIds(db);
  expect(written).toHaveLength(validCount(bodies));
  expect(new Set(written).size).toBe(validCount(bodies));
  const { [REDRIVEN]: moved = [], ...reasoned } = summary.deadLetterQueue.messageIds;
  const distinct = Object.fromEntries(
    Object.entries(reasoned).map(([reason, ids]) => [reason, new Set(ids).size]),
  );
  expect(distinct).toEqual(invalidByReason(bodies));
  const handled = new Set([...written, ...Object.values(reasoned).flat()]);
  expect(moved.filter((id) => !handled.has(id))).toEqual([]);
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
    // Assert: npm start's queue settings (visibility 2 s), so on a busy machine some
    // deliveries outlive their visibility and come again: only what is certain is counted.
    expect(validCount(bodies)).toBeLessThan(400);
    await expectEachMessageItsFate(db, bodies, summary);
    expect(summary).toMatchObject({ sent: 400, written: validCount(bodies) });
    expect(summary.repeatedIps).toBeGreaterThan(0);
    expect(summary.repeatedDevices).toBeGreaterThan(0);
  });

  it('runs the handler as login_queue_writer on the embedded server it starts', async () => {
    // Act: no database given, so the run starts its own.
    const { summary, services } = await runLocal({
      messages: 60,
      seed: 5,
      batchSize: 20,
      concurrency: 1,
    });
    cleanups.push(() => services.stop());
    // Assert: written through the function's role, whose sessions are still open.
    expect(new URL(services.handlerDatabaseUrl).username).toBe(WRITER_ROLE);
    expect(summary.written).toBe(validCount(generateBodies(60, { seed: 5 })));
    const { rows } = await withClient(services.databaseUrl, (admin) =>
      admin.query(
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'login-queue' AND usename <> current_user",
      ),
    );
    expect(rows).toEqual([{ usename: WRITER_ROLE }]);
  });

  it("drains the take-home environment's queue, found by name, into its pre-created table", async ({
    skip,
  }) => {
    // Arrange: an SQS endpoint standing in for LocalStack with login-queue (no DLQ) holding
    // the 100 take-home messages, and a database whose table comes from the take-home DDL.
    // Its queue URLs are not <endpoint>/000000000000/login-queue: the name must be looked up.
    const bodies = takeHomeBodies(skip);
    const sqsServer = await startFauxqs({ port: 0, logger: false });
    cleanups.push(() => sqsServer.stop());
    const { queueUrl } = sqsServer.createQueue('login-queue');
    expect(queueUrl).not.toBe(`${sqsServer.address}/000000000000/login-queue`);
    const sqs = sqsClientFor(sqsServer.address);
    for (let i = 0; i < bodies.length; i += 10) {
      const entries = bodies
        .slice(i, i + 10)
        .map((body, j) => ({ Id: String(j), MessageBody: body }));
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    }
    const db = await database();
    await db.pool.query(takeHomeDdl(skip));
    // Act: what `npm start -- --sqs-endpoint … --database-url …` passes.
    const { summary, services } = await runLocal({
      messages: 0,
      batchSize: 10,
      concurrency: 2,
      sqsEndpoint: sqsServer.address,
      databaseUrl: db.url,
      keysFile: keysPath(),
    });
    cleanups.push(() => services.stop());
    // Assert
    expect(services.queueUrl).toBe(queueUrl);
    expect(await db.count()).toBe(99);
    await expectEachMessageItsFate(db, bodies, summary);
    expect(invalidByReason(bodies)).toEqual({ 'user_id.missing': 1 });
    expect(services.dlqUrl).toMatch(/login-queue-dlq$/);
    const { rows } = await db.pool.query(
      "SELECT data_type FROM information_schema.columns WHERE table_name = 'user_logins' AND column_name = 'app_version'",
    );
    expect(rows[0].data_type).toBe('integer');
  });

  it("tells each run's own dead letters from the DLQ's total when runs share a DLQ", async () => {
    // Arrange: one endpoint and DLQ, drained by two runs in turn.
    const aws = await startLocalAws();
    cleanups.push(() => aws.stop());
    const db = await database();
    const run = async (seed: number) => {
      const { summary, services } = await runLocal({
        messages: 300,
        seed,
        batchSize: 25,
        concurrency: 2,
        sqsEndpoint: aws.sqsEndpoint,
        queueUrl: aws.queueUrl,
        dlqUrl: aws.dlqUrl,
        databaseUrl: db.url,
        keysFile: keysPath(),
      });
      await services.stop();
      return summary;
    };
    const invalid = (seed: number) => 300 - validCount(generateBodies(300, { seed }));
    // Act
    const first = await run(1);
    const second = await run(2);
    // Assert: each counts its own invalid messages; the DLQ holds both runs'.
    expect(first.ownDeadLetters.messages).toBe(invalid(1));
    expect(second.ownDeadLetters.messages).toBe(invalid(2));
    const distinct = new Set(Object.values(second.deadLetterQueue.messageIds).flat());
    expect(distinct.size).toBe(invalid(1) + invalid(2));
    expect(second.ownDeadLetters.copies).toBe(
      second.deadLetterQueue.total - distinct.size - first.ownDeadLetters.copies,
    );
  });

  it('retries while PostgreSQL is gone mid-drain, then lands every valid message exactly once', async () => {
    // Arrange: the pipeline reaches PostgreSQL through a link we cut once writes are flowing.
    const db = await database();
    const { proxy, url: proxied } = await proxyDatabase(db.url);
    cleanups.push(() => proxy.stop());
    const seed = 7;
    const bodies = generateBodies(1500, { seed });
    let cut = false;
    // Act
    const { summary, services } = await runLocal({
      messages: 1500,
      seed,
      batchSize: 25,
      concurrency: 2,
      databaseUrl: proxied,
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
    await expectEachMessageItsFate(db, bodies, summary);
    // maxReceiveCount 50: the outage itself moves nothing to the DLQ.
    expect(summary.deadLetterQueue.byReason[REDRIVEN]).toBeUndefined();
  });
});

describe('before changing anything', () => {
  it('refuses a missing queue, naming the endpoint and queue, and leaves the database unmigrated', async () => {
    // Arrange: an endpoint without login-queue, and an empty database.
    const sqsServer = await startFauxqs({ port: 0, logger: false });
    cleanups.push(() => sqsServer.stop());
    const db = await database();
    const keysFile = keysPath();
    // Act
    const failure = runLocal({
      messages: 0,
      batchSize: 10,
      concurrency: 1,
      sqsEndpoint: sqsServer.address,
      databaseUrl: db.url,
      keysFile,
    });
    // Assert
    await expect(failure).rejects.toThrow(UnreachableError);
    await expect(failure).rejects.toThrow(
      new RegExp(`^SQS at ${sqsServer.address}: queue "login-queue": .*does not exist`),
    );
    expect(await tables(db)).toEqual([]);
    expect(existsSync(keysFile)).toBe(false);
  });

  it('refuses an unreachable database, naming its address without the password, and touches no queue', async () => {
    // Arrange: a port nothing listens on (a proxy, stopped).
    const proxy = await startTcpProxy('127.0.0.1', 9);
    await proxy.stop();
    const sqsServer = await startFauxqs({ port: 0, logger: false });
    cleanups.push(() => sqsServer.stop());
    sqsServer.createQueue('login-queue');
    // Act
    const failure = runLocal({
      messages: 0,
      batchSize: 10,
      concurrency: 1,
      sqsEndpoint: sqsServer.address,
      databaseUrl: `postgres://someone:s3cret@127.0.0.1:${proxy.port}/logins`,
    });
    // Assert
    await expect(failure).rejects.toThrow(
      new RegExp(`^PostgreSQL at 127\\.0\\.0\\.1:${proxy.port}/logins: .*ECONNREFUSED`),
    );
    await expect(failure).rejects.not.toThrow(/s3cret/);
    const sqs = sqsClientFor(sqsServer.address);
    const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({}));
    expect(QueueUrls.map((url) => url.split('/').pop())).toEqual(['login-queue']);
  });
  it('refuses a DLQ URL that does not exist, naming it', async () => {
    const sqsServer = await startFauxqs({ port: 0, logger: false });
    cleanups.push(() => sqsServer.stop());
    sqsServer.createQueue('login-queue');
    const db = await database();
    const dlqUrl = `${sqsServer.address}/000000000000/no-such-dlq`;
    const failure = runLocal({
      messages: 0,
      batchSize: 10,
      concurrency: 1,
      sqsEndpoint: sqsServer.address,
      dlqUrl,
      databaseUrl: db.url,
      keysFile: keysPath(),
    });
    await expect(failure).rejects.toThrow(`SQS at ${sqsServer.address}: queue ${dlqUrl}: `);
    expect(await tables(db)).toEqual([]);
  });

  it('refuses a path-style queue URL the endpoint spells otherwise, naming the queue and the URL it knows', async () => {
    // Arrange: the endpoint knows login-queue as http://127.0.0.1:<port>/000000000000/login-queue.
    const sqsServer = await startLocalAws();
    cleanups.push(() => sqsServer.stop());
    const port = new URL(sqsServer.sqsEndpoint).port;
    const pathStyle = `http://localhost:${port}/000000000000/login-queue`;
    // Act
    const failure = runLocal({
      messages: 0,
      batchSize: 10,
      concurrency: 1,
      sqsEndpoint: sqsServer.sqsEndpoint,
      queueUrl: pathStyle,
      databaseUrl: (await database()).url,
      keysFile: keysPath(),
    });
    // Assert
    await expect(failure).rejects.toThrow(
      `SQS at ${sqsServer.sqsEndpoint}: queue ${pathStyle}: The specified queue does not exist. (${sqsServer.sqsEndpoint} knows queue "login-queue" as ${sqsServer.queueUrl}: give that URL, or the queue's name)`,
    );
  });

  it('names the endpoint when the DLQ cannot be created, before migrating', async () => {
    // Arrange: an endpoint that answers everything but CreateQueue.
    const sqsServer = await startFauxqs({ port: 0, logger: false });
    cleanups.push(() => sqsServer.stop());
    sqsServer.createQueue('login-queue');
    const refusing = await refuseCreateQueue(sqsServer.address);
    cleanups.push(() => refusing.stop());
    const db = await database();
    // Act
    const failure = runLocal({
      messages: 0,
      batchSize: 10,
      concurrency: 1,
      sqsEndpoint: refusing.address,
      databaseUrl: db.url,
      keysFile: keysPath(),
    });
    // Assert
    await expect(failure).rejects.toThrow(
      `SQS at ${refusing.address}: creating queue "login-queue-dlq": create refused`,
    );
    expect(await tables(db)).toEqual([]);
  });
});

describe('keys against an existing database', () => {
  it('writes a new keys file (mode 600, fresh key ids) and reuses it, so tokens stay comparable', async () => {
    // Arrange
    const db = await database();
    const keysFile = keysPath();
    const run = async (seed: number, file = keysFile) => {
      const { services, summary } = await runLocal({
        messages: 200,
        seed,
        batchSize: 50,
        concurrency: 1,
        databaseUrl: db.url,
        keysFile: file,
      });
      await services.stop();
      return { ...services, rowsOnOtherKeys: summary.rowsOnOtherKeys };
    };
    const facts = async () =>
      (
        await db.pool.query(
          `SELECT count(*)::int AS n, count(DISTINCT masked_ip)::int AS ips,
                  count(DISTINCT key_id)::int AS keys FROM user_logins`,
        )
      ).rows[0] as { n: number; ips: number; keys: number };
    // Act: the same 200 bodies twice (new message ids, so two rows per valid body).
    const first = await run(5);
    const mode = statSync(keysFile).mode & 0o777;
    const afterFirst = await facts();
    const second = await run(5);
    const afterSecond = await facts();
    // Assert: the second run's tokens equal the first's, so no new distinct ip appears.
    expect(first.keysCreated).toBe(true);
    expect(second.keysCreated).toBe(false);
    expect(mode).toBe(0o600);
    expect(afterSecond.n).toBe(2 * afterFirst.n);
    expect(afterSecond.ips).toBe(afterFirst.ips);
    expect(afterSecond.keys).toBe(1);
    const keyId = JSON.parse(readKeysFile(keysFile).maskingSecret).current as string;
    expect(keyId).toMatch(/^k\d{8}T\d{6}-[0-9a-f]{4}$/);
    expect(second.rowsOnOtherKeys).toEqual({});
    // A run with other keys is told which rows its tokens cannot match.
    const third = await run(5, keysPath());
    expect(third.rowsOnOtherKeys).toEqual({ [keyId]: afterSecond.n });
  });

  it('generates a different key id for each new keys file', () => {
    const a = JSON.parse(generateLocalKeys().maskingSecret).current;
    const b = JSON.parse(generateLocalKeys().maskingSecret).current;
    expect(a).not.toBe(b);
  });
});

describe('progress', () => {
  it('reports the drain from its start with a total from the queue depth, and counts that never contradict', async () => {
    // Arrange
    const db = await database();
    const reports: Progress[] = [];
    // Act
    const { summary, services } = await runLocal({
      messages: 600,
      seed: 11,
      batchSize: 20,
      concurrency: 2,
      databaseUrl: db.url,
      onProgress: (progress) => reports.push(progress),
    });
    cleanups.push(() => services.stop());
    // Assert
    const sending = reports.filter((p) => p.phase === 'sending');
    const draining = reports.filter((p) => p.phase === 'draining');
    expect(sending[0]).toMatchObject({ done: 0, total: 600 });
    expect(sending.at(-1)).toMatchObject({ done: 600, total: 600 });
    expect(draining[0]).toMatchObject({ done: 0, total: 600, delivered: 0 });
    expect(draining[0]?.elapsedMs).toBeLessThan(1000);
    expect(draining.at(-1)).toMatchObject({ done: 600, total: 600 });
    for (const p of draining) {
      expect(p.done).toBeLessThanOrEqual(p.total);
      expect(p.written + p.deadLettered + p.duplicates + p.retried).toBeLessThanOrEqual(
        p.delivered,
      );
    }
    expect(draining.at(-1)?.delivered).toBe(summary.delivered);
  });
});

describe('npm run invoke', () => {
  const run = promisify(execFile);
  // Without the SDK's warning switch, which bundles loaded in this process have set here.
  const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _, ...parentEnv } = process.env;
  const invoke = (args: string[], extraEnv: Record<string, string>) =>
    run('node', ['--import', 'tsx', 'lambda/local/invoke.ts', ...args], {
      env: { ...parentEnv, ...extraEnv },
    });

  it('prints an SQSBatchResponse naming the invalid records of the mixed example, with no SDK or pool noise', async () => {
    const db = await database();
    const { stdout, stderr } = await invoke(['--event', 'lambda/local/events/mixed-batch.json'], {
      DATABASE_URL: db.url,
    });
    expect(stderr).not.toMatch(/NodeVersionSupportWarning|idle database connection dropped/);
    expect(JSON.parse(stdout)).toEqual({
      batchItemFailures: [
        { itemIdentifier: '9d0c2b1e-5a77-4c1d-8e0f-0b6c3d2e1f01' },
        { itemIdentifier: '9d0c2b1e-5a77-4c1d-8e0f-0b6c3d2e1f02' },
        { itemIdentifier: '9d0c2b1e-5a77-4c1d-8e0f-0b6c3d2e1f03' },
      ],
    });
    expect(await db.count()).toBe(2);
  });

  it('starts, migrates and logs in as login_queue_writer to its own PostgreSQL without DATABASE_URL', async () => {
    const { stdout, stderr } = await invoke(['--event', 'lambda/local/events/mixed-batch.json'], {
      DATABASE_URL: '',
    });
    expect(stderr).toContain(`invoke: the function logs in as ${WRITER_ROLE}`);
    expect(JSON.parse(stdout).batchItemFailures).toHaveLength(3);
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
