/**
 * Credential changes never stall the pipeline: a password rotated while the function drains
 * the queue, and one rotated while the migration function logs in (a deploy's first minutes).
 */
import { randomBytes } from 'node:crypto';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { MIGRATIONS } from '../../lambda/db/migrations';
import { createPool } from '../../lambda/db/pool';
import { loadBundle, localContext } from '../../lambda/local/bundle';
import { runEventSource } from '../../lambda/local/event-source';
import { generateBodies } from '../../lambda/local/generate';
import {
  type LocalSecretsManager,
  startLocalSecretsManager,
} from '../../lambda/local/secrets-manager';
import {
  asAdmin,
  createTestDatabase,
  serverChecksPasswords,
  type TestDatabase,
} from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { type Pipeline, startPipeline } from '../helpers/pipeline';
import { drainVisible, sqsClientFor } from '../helpers/queues';

const env = snapshotEnv();
const WRITER_SECRET = 'login-queue/writer-password';

/** The function's environment for a database whose password lives in a secret. */
function passwordSecretEnv(url: string, user: string, secretArn: string): Record<string, string> {
  const { hostname, port, pathname } = new URL(url);
  return {
    DATABASE_URL: '',
    DB_HOST: hostname,
    DB_PORT: port || '5432',
    DB_NAME: pathname.slice(1),
    DB_USER: user,
    DB_PASSWORD_SECRET_ID: secretArn,
    DB_SSL: 'disable',
  };
}

afterAll(() => env.restore());

// Every test here needs the server to refuse a password; the embedded server the tests start
// does. With DATABASE_URL naming a server that trusts local connections, they are skipped.
const refusesPasswords = await serverChecksPasswords();
const describeRefusing = describe.skipIf(!refusesPasswords);

describeRefusing('the password of the function’s role rotated mid-drain', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await startPipeline((writer, aws) =>
      passwordSecretEnv(
        writer.url,
        writer.role,
        aws.secretsManager.put(WRITER_SECRET, JSON.stringify({ password: writer.password })),
      ),
    );
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('goes on draining: the refused password is read again, nothing is dead-lettered or lost', async () => {
    // Arrange: 600 valid messages; the password changes before the third batch, with the
    // function's connection gone (as after a freeze) and its cached password (5 minutes) stale.
    const { aws, db, writer, handler } = pipeline;
    const sqs = sqsClientFor(aws.sqsEndpoint);
    const bodies = generateBodies(600, { seed: 11, invalidRate: 0 });
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: aws.queueUrl,
          Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })),
        }),
      );
    }
    let batches = 0;
    let retried = 0;
    // Act
    await runEventSource({
      sqs,
      queueUrl: aws.queueUrl,
      queueArn: aws.queueArn,
      batchSize: 50,
      handlers: [
        async (event) => {
          batches++;
          if (batches === 3) {
            const password = await writer.rotatePassword();
            aws.secretsManager.put(WRITER_SECRET, JSON.stringify({ password }));
            await db.pool.query(
              'SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE usename = $1',
              [writer.role],
            );
          }
          return handler(event, localContext());
        },
      ],
      onBatch: (batch) => {
        retried += batch.failed;
      },
    });
    // Assert: the stale password was refused once and read again; every message landed once.
    expect(batches).toBeGreaterThan(3);
    expect(aws.secretsManager.reads(WRITER_SECRET)).toBe(2);
    expect(retried).toBeLessThanOrEqual(50);
    expect(await db.count()).toBe(600);
    const { rows } = await db.pool.query(
      'SELECT count(DISTINCT message_id)::int AS n FROM user_logins',
    );
    expect(rows[0].n).toBe(600);
    expect(await drainVisible(sqs, aws.dlqUrl)).toEqual([]);
  });
});

describeRefusing('a pool whose credential the server refuses', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await startPipeline();
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  /** A pool as the function's login, whose credential answers `passwords` in turn. */
  function poolWith(passwords: string[]) {
    const { hostname, port, pathname } = new URL(pipeline.writer.url);
    const credential = {
      password: vi.fn(async () => passwords.shift() ?? ''),
      invalidate: vi.fn(),
    };
    const pool = createPool({
      database: {
        kind: 'secret',
        host: hostname,
        port: Number(port),
        database: pathname.slice(1),
        user: pipeline.writer.role,
        passwordSecretId: 'unused',
        ssl: 'disable',
      },
      queryTimeoutMs: 10_000,
      credential,
      onError: () => {},
    });
    return { pool, credential };
  }

  it('invalidates it and connects once more, through connect() and through query()', async () => {
    const good = pipeline.writer.password;
    const { pool, credential } = poolWith(['stale', good, 'stale', good]);
    try {
      const client = await pool.connect();
      client.release(true); // so that query() needs a new connection too
      const { rows } = await pool.query('SELECT current_user AS u');
      expect(rows).toEqual([{ u: pipeline.writer.role }]);
      expect(credential.invalidate).toHaveBeenCalledTimes(2);
      expect(credential.password).toHaveBeenCalledTimes(4);
    } finally {
      await pool.end();
    }
  });

  it('gives up after one more refusal, with the server’s 28P01', async () => {
    const { pool, credential } = poolWith(['stale', 'still stale']);
    try {
      await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: '28P01' });
      expect(credential.invalidate).toHaveBeenCalledOnce();
      expect(credential.password).toHaveBeenCalledTimes(2);
    } finally {
      await pool.end();
    }
  });
});

describeRefusing('the master password rotated while the migration function logs in', () => {
  let db: TestDatabase;
  let secrets: LocalSecretsManager;
  const migrator = `${inject('testRolePrefix')}master_${randomBytes(3).toString('hex')}`;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await secrets?.stop();
    await db?.drop();
    await asAdmin(`DROP ROLE IF EXISTS ${migrator}`);
  });

  it('reads the secret again with backoff until the new password is current, and migrates', async () => {
    // Arrange: a master login of its own (its password is the test's to change), in the middle
    // of a rotation: the database already takes the new password (setSecret) while the
    // secret's current version still holds the old one for 2.5 s more (finishSecret).
    const [oldPassword, newPassword] = [randomBytes(12), randomBytes(12)].map((b) =>
      b.toString('hex'),
    );
    await db.pool.query(`CREATE ROLE ${migrator} LOGIN SUPERUSER PASSWORD '${oldPassword}'`);
    secrets = await startLocalSecretsManager();
    const arn = secrets.put('master', JSON.stringify({ password: oldPassword }));
    await db.pool.query(`ALTER ROLE ${migrator} PASSWORD '${newPassword}'`);
    const finished = setTimeout(
      () => secrets.put('master', JSON.stringify({ password: newPassword })),
      2_500,
    );
    const migrate = loadBundle<() => Promise<{ migrated: { applied: number[] } }>>(
      {
        ...passwordSecretEnv(db.url, migrator, arn),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
      'migrate',
    );
    // Act
    const result = await migrate().finally(() => clearTimeout(finished));
    // Assert: refused with the old password (the pool's own retry, then the backoff), read
    // again until the new one was current, and migrated.
    expect(secrets.reads('master')).toBeGreaterThanOrEqual(3);
    expect(result.migrated.applied).toEqual(MIGRATIONS.map((m) => m.version));
    const { rows } = await db.pool.query(
      'SELECT max(version)::int AS v FROM login_queue_migrations',
    );
    expect(rows[0].v).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
  });
});
