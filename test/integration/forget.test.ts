/**
 * npm run forget against real PostgreSQL (migrated, as login_queue_operator and as the
 * function's writer role) and the DLQ over the real SQS protocol (fauxqs): one user's rows go
 * from every partition, the audit names them by a token only, dead letters that mention them
 * are counted and, when asked, deleted, and every other message stays and is visible.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OPERATOR_ROLE } from '../../lambda/contract/roles';
import { parseKeyRing } from '../../lambda/core/key-ring';
import { userIdToken } from '../../lambda/core/masking';
import { generateRecoveryKeyPair } from '../../lambda/core/recovery';
import { createClient, endPool } from '../../lambda/db/pool';
import { localContext } from '../../lambda/local/bundle';
import { forgetUser } from '../../lambda/ops/forget';
import { type CliResult, cleanEnv, runScript, spawnScript } from '../helpers/cli';
import { testPool } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { type Pipeline, startPipeline } from '../helpers/pipeline';
import { drainVisible, sqsClientFor } from '../helpers/queues';
import { loginBody, maskingSecret, sqsRecord } from '../helpers/sqs';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { createWriterLogin, type WriterLogin } from '../helpers/writer';

const env = snapshotEnv();
const USER = '9b1f3c0e-5d7a-4e2b-8c61-forget-me-0001';
const OTHER = '2c8e7a41-0f3b-4d59-9a1e-keep-me-0002';
const IPS = ['198.51.100.23', '203.0.113.145'];
let pipeline: Pipeline;
let operator: WriterLogin;

beforeAll(async () => {
  const recovery = generateRecoveryKeyPair('r1');
  pipeline = await startPipeline(() => ({ RECOVERY_PUBLIC_KEY: recovery.publicKey }));
  operator = await createWriterLogin(pipeline.db, OPERATOR_ROLE);
});

afterAll(async () => {
  await pipeline?.stop();
  await operator?.drop();
  env.restore();
});

beforeEach(async () => {
  await pipeline.reset();
  await pipeline.db.pool.query('TRUNCATE erasure_audit');
});

const DAY = 86_400_000;
/**
 * Two logins of USER, one body that holds USER's id but is not JSON (possibly theirs: counted,
 * never deleted), two of others: what the handler dead-letters in arrange().
 */
const DEAD_LETTERS = [
  loginBody({ user_id: USER, ip: '192.0.2.300' }),
  loginBody({ user_id: USER, app_version: 'v2' }),
  `{"user_id": "${USER}", "ip": "${IPS[0]}", broken`,
  loginBody({ user_id: OTHER, ip: 'nope' }),
  'not json',
];
const KEPT = DEAD_LETTERS.slice(2).sort();
const POSSIBLE =
  "1 other dead letter holds the id outside user_id (another field, or a body that is not JSON): not counted as the user's and never deleted by forget (see them in the SQS console)\n";
const firstOfLastMonth = () => {
  const now = new Date();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1, 12);
};

/**
 * Rows of USER this month, last month and in 2020 (the default partition), OTHER's rows beside
 * them; the dead letters above. All sealed (recovery on).
 */
async function arrange(): Promise<void> {
  const dated = (body: string, ms: number) =>
    sqsRecord(body, {
      attributes: { ...sqsRecord('').attributes, SentTimestamp: String(ms) },
    });
  const now = Date.now();
  const records = [
    dated(loginBody({ user_id: USER, ip: IPS[0] }), now),
    dated(loginBody({ user_id: USER, ip: IPS[1] }), firstOfLastMonth()),
    dated(loginBody({ user_id: USER }), Date.UTC(2020, 0, 15)),
    dated(loginBody({ user_id: OTHER }), now),
    dated(loginBody({ user_id: OTHER }), Date.UTC(2020, 0, 15) + DAY),
    // Dead-lettered by the handler, bodies unchanged.
    ...DEAD_LETTERS.map((body) => dated(body, now)),
  ];
  const response = await pipeline.handler({ Records: records }, localContext());
  expect(response).toEqual({ batchItemFailures: [] });
}

const rowsOf = async (userId: string) =>
  (
    await pipeline.db.pool.query<{ partition: string; sealed: boolean }>(
      'SELECT tableoid::regclass::text AS partition, pii_sealed IS NOT NULL AS sealed FROM user_logins WHERE user_id = $1',
      [userId],
    )
  ).rows;

const auditRows = async () =>
  (await pipeline.db.pool.query('SELECT * FROM erasure_audit ORDER BY id')).rows;

/** Every message of the DLQ, received once and left in flight (the test's own receive). */
const deadLetters = () => drainVisible(sqsClientFor(pipeline.aws.sqsEndpoint), pipeline.aws.dlqUrl);

const operatorEnv = (extra: Record<string, string> = {}) =>
  cleanEnv({
    ...pipeline.aws.awsEnv,
    DATABASE_URL: operator.url,
    DLQ_URL: pipeline.aws.dlqUrl,
    MASKING_SECRET_ID: pipeline.aws.maskingSecretArn,
    FORGET_OPERATOR: 'dpo@example.org',
    ...extra,
  });

const forget = (args: string[] = [], environment = operatorEnv()) =>
  runScript(
    'forget',
    ['--user-id', USER, '--reason', 'erasure request 2026-17', ...args],
    environment,
  );

/** Neither the id, nor any PII of the bodies or rows, in anything the command printed. */
function expectNoPii(result: CliResult) {
  for (const text of [USER, ...IPS, '192.0.2.300', 'broken', '593-47-5928']) {
    expect(result.stdout).not.toContain(text);
    expect(result.stderr).not.toContain(text);
  }
}

describe('npm run forget as login_queue_operator', () => {
  it("deletes the user's rows from every partition, leaves the others, and audits a token, not the id", async () => {
    // Arrange
    await arrange();
    expect(new Set((await rowsOf(USER)).map((r) => r.partition)).size).toBe(3);
    expect((await rowsOf(USER)).every((r) => r.sealed)).toBe(true);
    const othersBefore = await rowsOf(OTHER);
    // Act
    const result = await forget();
    // Assert
    expect(result.code, result.stderr).toBe(0);
    expect(await rowsOf(USER)).toEqual([]);
    expect(await rowsOf(OTHER)).toEqual(othersBefore);
    const token = userIdToken(parseKeyRing(maskingSecret('k1')).current, USER);
    const printed = JSON.parse(result.stdout);
    expect(printed).toMatchObject({
      operator: 'dpo@example.org',
      dbUser: operator.role,
      userToken: token,
      rowsDeleted: 3,
      deadLetters: { matched: 2, possible: 1, hiddenAtStart: 0, deleted: 0, leftHidden: 0 },
    });
    const audit = await auditRows();
    expect(audit).toEqual([
      expect.objectContaining({
        operator: 'dpo@example.org',
        db_user: operator.role,
        user_token: token,
        reason: 'erasure request 2026-17',
        rows_deleted: '3',
        dead_letters_matched: 2,
        dead_letters_deleted: 0,
      }),
    ]);
    expect(JSON.stringify(audit)).not.toContain(USER);
    expect(result.stderr).toBe(
      `${POSSIBLE}2 dead letters still mention this user; --delete-dead-letters deletes them\n`,
    );
    expectNoPii(result);
  });

  it('counts the dead letters without deleting them: every message stays in the queue and is visible', async () => {
    await arrange();
    const result = await forget();
    expect(result.code, result.stderr).toBe(0);
    // All five are visible at once after the run: one receive gets them, none in flight.
    expect((await deadLetters()).map((m) => m.Body).sort()).toEqual(DEAD_LETTERS.toSorted());
  });

  it("with --delete-dead-letters deletes exactly the user's own, never a body that merely holds the id", async () => {
    await arrange();
    const result = await forget(['--delete-dead-letters']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).deadLetters).toEqual({
      matched: 2,
      possible: 1,
      hiddenAtStart: 0,
      deleted: 2,
      leftHidden: 0,
    });
    const left = await deadLetters();
    expect(left.map((m) => m.Body).sort()).toEqual(KEPT);
    expect(await auditRows()).toEqual([
      expect.objectContaining({ dead_letters_matched: 2, dead_letters_deleted: 2 }),
    ]);
    expect(result.stderr).toBe(POSSIBLE);
    expectNoPii(result);
  });

  it('a second run deletes nothing and is audited too', async () => {
    await arrange();
    const first = await forget(['--delete-dead-letters']);
    const second = await forget();
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(JSON.parse(second.stdout)).toMatchObject({
      rowsDeleted: 0,
      deadLetters: { matched: 0, deleted: 0 },
    });
    const audit = await auditRows();
    expect(audit.map((row) => [row.rows_deleted, row.dead_letters_deleted])).toEqual([
      ['3', 2],
      ['0', 0],
    ]);
    expect(new Set(audit.map((row) => row.user_token)).size).toBe(1);
  });

  it('makes the messages it keeps visible at once, while the erasure still waits on the database', async () => {
    // Arrange: another session holds the user's rows, so forget's DELETE waits.
    await arrange();
    const holder = createClient(pipeline.db.url);
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM user_logins WHERE user_id = $1 FOR UPDATE', [USER]);
    const run = started(
      spawnScript('forget', ['--user-id', USER, '--reason', 'r 1'], operatorEnv()),
    );
    try {
      await waitForLock(operator.role);
      // Act: while it waits, receive without hiding anything.
      const visible = await receiveAll(0);
      // Assert: the three that are not the user's logins are back; the user's are held.
      expect(visible.map((m) => m.Body).sort()).toEqual(KEPT);
    } finally {
      await holder.query('COMMIT');
      await holder.end();
    }
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect((await receiveAll(0)).length).toBe(5);
  });
});

describe('npm run forget --dry-run', () => {
  it('prints the rows by partition and the dead letters it would delete, changes nothing, and the run then does just that', async () => {
    // Arrange
    await arrange();
    const before = await erasureState();
    // Act
    const dry = await forget(['--delete-dead-letters', '--dry-run']);
    // Assert: the preview; rows, audit and queue as they were, every message visible.
    expect(dry.code, dry.stderr).toBe(0);
    const preview = JSON.parse(dry.stdout);
    expect(preview).toEqual({
      dryRun: true,
      userToken: userIdToken(parseKeyRing(maskingSecret('k1')).current, USER),
      rows: 3,
      rowsByPartition: Object.fromEntries((await rowsOf(USER)).map((row) => [row.partition, 1])),
      deadLetters: { matched: 2, possible: 1, hiddenAtStart: 0, wouldDelete: 2 },
    });
    expect(Object.keys(preview.rowsByPartition)).toContain('user_logins_default');
    expect(dry.stderr).toMatch(
      /^dry run: would delete 3 rows \(user_logins_\w+ 1, user_logins_\w+ 1, user_logins_\w+ 1\) and 2 of the 2 dead letters that are the user's; nothing was changed or audited\n/,
    );
    expect(await erasureState()).toEqual(before);
    expectNoPii(dry);

    // The erasure itself deletes what the preview counted.
    const real = await forget(['--delete-dead-letters']);
    expect(real.code, real.stderr).toBe(0);
    const done = JSON.parse(real.stdout);
    expect(done.rowsDeleted).toBe(preview.rows);
    expect(done.deadLetters).toMatchObject({
      matched: preview.deadLetters.matched,
      possible: preview.deadLetters.possible,
      deleted: preview.deadLetters.wouldDelete,
    });
  });
});

describe('npm run forget without a dead-letter queue', () => {
  it('erases the rows, says the dead letters were not checked, and audits their counts as NULL', async () => {
    await arrange();
    const result = await forget([], operatorEnv({ DLQ_URL: '' }));
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ rowsDeleted: 3, deadLetters: null });
    expect(result.stderr).toBe(
      "dead letters were not checked (no dead-letter queue given: --dlq-url or DLQ_URL); they may still hold this user's logins\n",
    );
    expect(await rowsOf(USER)).toEqual([]);
    expect(await auditRows()).toEqual([
      expect.objectContaining({
        rows_deleted: '3',
        dead_letters_matched: null,
        dead_letters_deleted: null,
      }),
    ]);
    // The queue was not touched.
    expect(await deadLetters()).toHaveLength(5);
  });

  it('refuses --delete-dead-letters without one: a usage error, nothing erased', async () => {
    await arrange();
    const result = await forget(['--delete-dead-letters'], operatorEnv({ DLQ_URL: '' }));
    expect(result).toMatchObject({ code: 2 });
    expect(result.stderr).toContain('--delete-dead-letters needs the dead-letter queue');
    expect(await rowsOf(USER)).toHaveLength(3);
  });

  it('says so when the id matched no row, and audits the request all the same', async () => {
    const result = await forget([], operatorEnv({ DLQ_URL: '' }));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      'no row of user_logins has this user id: 0 rows deleted (the request is audited all the same)',
    );
    expect(await auditRows()).toEqual([expect.objectContaining({ rows_deleted: '0' })]);
  });
});

/** What an erasure changes: the user's rows by partition, all rows, the audit, the DLQ. */
async function erasureState() {
  const { rows } = await pipeline.db.pool.query(
    'SELECT tableoid::regclass::text AS p, user_id, count(*)::int AS n FROM user_logins GROUP BY 1, 2 ORDER BY 1, 2',
  );
  const { Attributes } = await sqsClientFor(pipeline.aws.sqsEndpoint).send(
    new GetQueueAttributesCommand({
      QueueUrl: pipeline.aws.dlqUrl,
      AttributeNames: ['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessages'],
    }),
  );
  return { rows, audit: await auditRows(), queue: Attributes };
}

describe('npm run forget when something fails', () => {
  it('as the function’s writer role: permission denied, exit 1, no row deleted, nothing audited, every message visible', async () => {
    await arrange();
    const result = await forget(
      ['--delete-dead-letters'],
      operatorEnv({ DATABASE_URL: pipeline.writer.url }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^forget failed: permission denied for table user_logins\n$/);
    expect(await rowsOf(USER)).toHaveLength(3);
    expect(await auditRows()).toEqual([]);
    expect(await deadLetters()).toHaveLength(5);
    expectNoPii(result);
  });

  it('without a reason, or with the id in the reason: a usage error (exit 2), nothing touched', async () => {
    await arrange();
    const none = await runScript('forget', ['--user-id', USER], operatorEnv());
    const leaky = await runScript(
      'forget',
      ['--user-id', USER, '--reason', `request of ${USER}`],
      operatorEnv(),
    );
    expect(none).toMatchObject({ code: 2, stderr: 'forget: --reason is required (see --help)\n' });
    expect(leaky).toMatchObject({
      code: 2,
      stderr:
        'forget: the reason must not contain the user id (the audit keeps the reason in clear) (see --help)\n',
    });
    expect(await rowsOf(USER)).toHaveLength(3);
    expect(await auditRows()).toEqual([]);
  });

  it('SQS unreachable before it starts: exit 1 naming SQS, no row deleted', async () => {
    await arrange();
    const closed = await startTcpProxy('127.0.0.1', 9);
    await closed.stop();
    const endpoint = `http://127.0.0.1:${closed.port}`;
    const result = await forget([], operatorEnv({ AWS_ENDPOINT_URL_SQS: endpoint }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^forget failed: SQS at ${endpoint}: queue .*ECONNREFUSED`),
    );
    expect(await rowsOf(USER)).toHaveLength(3);
    expect(await auditRows()).toEqual([]);
  });

  it('SQS lost before the dead letters are deleted: rows erased, the audit says none deleted, exit 1 saying so', async () => {
    // Arrange: SQS through a proxy, and the user's rows held so the run waits after its scan.
    await arrange();
    const sqsUrl = new URL(pipeline.aws.sqsEndpoint);
    let proxy: TcpProxy | undefined = await startTcpProxy(sqsUrl.hostname, Number(sqsUrl.port));
    const holder = createClient(pipeline.db.url);
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM user_logins WHERE user_id = $1 FOR UPDATE', [USER]);
    const run = started(
      spawnScript(
        'forget',
        ['--user-id', USER, '--reason', 'r 2', '--delete-dead-letters'],
        operatorEnv({ AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${proxy.port}` }),
      ),
    );
    try {
      await waitForLock(operator.role);
      // Act: SQS goes away, then the database lets the run go on.
      await proxy.cut();
    } finally {
      await holder.query('COMMIT');
      await holder.end();
    }
    const result = await run.done;
    proxy = undefined;
    // Assert
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /forget failed: SQS at http:\/\/127\.0\.0\.1:\d+: deleted 0 of the 2 dead letters that mention the user \(audited\): .*ECONNREFUSED.*; run forget again with --delete-dead-letters\n$/,
    );
    expect(result.stderr).toContain('warning: 2 dead letters could not be made visible again');
    expect(await rowsOf(USER)).toEqual([]);
    expect(await auditRows()).toEqual([
      expect.objectContaining({
        rows_deleted: '3',
        dead_letters_matched: 2,
        dead_letters_deleted: 0,
      }),
    ]);
    // The two are still in the queue, hidden until their timeout.
    const { Attributes } = await sqsClientFor(pipeline.aws.sqsEndpoint).send(
      new GetQueueAttributesCommand({
        QueueUrl: pipeline.aws.dlqUrl,
        AttributeNames: ['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessages'],
      }),
    );
    expect(Attributes).toMatchObject({
      ApproximateNumberOfMessagesNotVisible: '2',
      ApproximateNumberOfMessages: '3',
    });
    expectNoPii(result);
  });
});

describe('forget reading the dead-letter queue', () => {
  it('reads every dead letter when reading outlasts the hold on them, and counts those another reader holds', async () => {
    // Arrange: one message another reader holds, then 30 of others and 2 of the user, read 10
    // at a time by receives that take 800 ms each: the read outlasts a 2 s hold.
    const sqs = sqsClientFor(pipeline.aws.sqsEndpoint);
    const QueueUrl = pipeline.aws.dlqUrl;
    const send = async (bodies: string[]) => {
      for (let i = 0; i < bodies.length; i += 10)
        await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl,
            Entries: bodies
              .slice(i, i + 10)
              .map((MessageBody, j) => ({ Id: String(j), MessageBody })),
          }),
        );
    };
    await send([loginBody({ user_id: 'held-elsewhere' })]);
    const held = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 60 }),
    );
    expect(held.Messages).toHaveLength(1);
    const others = Array.from({ length: 30 }, (_, i) => loginBody({ user_id: `other-${i}` }));
    await send([...others, loginBody({ user_id: USER }), loginBody({ user_id: USER, ip: 'x' })]);
    const slow = {
      send: async (command: unknown) => {
        if (command instanceof ReceiveMessageCommand) await sleep(800);
        return sqs.send(command as ReceiveMessageCommand);
      },
    } as unknown as SQSClient;
    const pool = testPool({ connectionString: operator.url, max: 1 });
    const started = Date.now();
    try {
      // Act
      const result = await forgetUser(
        { pool, sqs: slow, dlqUrl: QueueUrl, holdSeconds: 2 },
        parseKeyRing(maskingSecret('k1')).current,
        { userId: USER, reason: 'r 3', operator: 'test', deleteDeadLetters: true },
      );
      // Assert: the read took longer than the hold, and still saw each message once.
      expect(Date.now() - started).toBeGreaterThan(2_000);
      expect(result.deadLetters).toEqual({
        matched: 2,
        possible: 0,
        hiddenAtStart: 1,
        deleted: 2,
        leftHidden: 0,
      });
      // The others are all back and visible; the held one is still the other reader's.
      expect((await receiveAll(0)).map((m) => m.Body).sort()).toEqual(others.toSorted());
    } finally {
      await endPool(pool);
    }
  });
});

/** Receives every visible message with the given visibility timeout. */
async function receiveAll(visibility: number): Promise<Message[]> {
  const sqs = sqsClientFor(pipeline.aws.sqsEndpoint);
  const seen = new Map<string, Message>();
  for (let i = 0; i < 5; i++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: pipeline.aws.dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibility,
      }),
    );
    for (const m of Messages) seen.set(m.MessageId ?? '', m);
  }
  return [...seen.values()];
}

/** Waits until a session of `role` waits on a lock. */
async function waitForLock(role: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { rows } = await pipeline.db.pool.query(
      "SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'",
      [role],
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no session of ${role} came to wait on a lock`);
}

/** A spawned command's output and exit code, once it exits. */
function started(child: ChildProcess): { done: Promise<CliResult> } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  return {
    done: new Promise((resolve) =>
      child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr })),
    ),
  };
}
