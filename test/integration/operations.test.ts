/**
 * The operations function (the shipped ops bundle) against real PostgreSQL, logged in as a
 * member of login_queue_operator, with SQS over fauxqs and a local STS that checks the caller
 * proofs' SigV4 signatures; and the operator commands' --function-url path, through a local
 * server that plays the function URL.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { signCallerProof } from '../../lambda/cli/remote';
import { OPERATOR_ROLE } from '../../lambda/contract/roles';
import { generateRecoveryKeyPair } from '../../lambda/core/recovery';
import { createClient } from '../../lambda/db/pool';
import { type BundleModule, loadBundleModule, localContext } from '../../lambda/local/bundle';
import { snapshotEnv } from '../helpers/env';
import {
  type FunctionUrlResponse,
  functionUrlEvent,
  type LocalFunctionUrl,
  startFunctionUrl,
} from '../helpers/function-url';
import { type Pipeline, startPipeline } from '../helpers/pipeline';
import { sqsClientFor } from '../helpers/queues';
import { loginBody, maskingSecret, sqsEvent } from '../helpers/sqs';
import { type LocalIdentity, type LocalSts, startSts } from '../helpers/sts';
import { createWriterLogin, type WriterLogin } from '../helpers/writer';

type OpsHandler = (event: object, context: object) => Promise<FunctionUrlResponse>;

const env = snapshotEnv();
const recovery = generateRecoveryKeyPair('r1');
const ALICE = 'arn:aws:sts::123456789012:assumed-role/RecoveryOperatorRole/alice';
const OPERATOR_ROLE_ARN = 'arn:aws:iam::123456789012:role/RecoveryOperatorRole';
const OPS_ARN = localContext('login-queue-ops').invokedFunctionArn;
// What STS knows: the operator's role session, and a session of another role of the account.
const OPERATOR: LocalIdentity = {
  accessKeyId: 'ASIAOPERATOR',
  secretAccessKey: 'operator-secret',
  sessionToken: 'operator-session',
  arn: ALICE,
};
const CI: LocalIdentity = {
  accessKeyId: 'ASIACI',
  secretAccessKey: 'ci-secret',
  sessionToken: 'ci-session',
  arn: 'arn:aws:sts::123456789012:assumed-role/ci-deploy/build-7',
};
let sts: LocalSts;
let pipeline: Pipeline;
let operator: WriterLogin;
let ops: BundleModule<OpsHandler> & { env: Record<string, string> };
let stderr: string[];

beforeAll(async () => {
  sts = await startSts([OPERATOR, CI]);
  pipeline = await startPipeline(() => ({ RECOVERY_PUBLIC_KEY: recovery.publicKey }));
  const { aws, db } = pipeline;
  const recoverySecretArn = aws.secretsManager.put('login-queue/recovery-key', recovery.secret);
  operator = await createWriterLogin(db, OPERATOR_ROLE);
  const opsEnv = {
    ...aws.awsEnv,
    DATABASE_URL: operator.url,
    MASKING_SECRET_ID: aws.maskingSecretArn,
    RECOVERY_SECRET_ID: recoverySecretArn,
    DLQ_URL: aws.dlqUrl,
    SOURCE_QUEUE_URL: aws.queueUrl,
    AWS_ENDPOINT_URL_STS: sts.url,
    OPERATOR_ROLE_ARN,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  ops = { ...loadBundleModule<OpsHandler>(opsEnv, 'ops'), env: opsEnv };
});

afterAll(async () => {
  await ops?.close();
  await pipeline?.stop();
  await operator?.drop();
  await sts?.stop();
  env.restore();
});

beforeEach(async () => {
  pipeline.aws.secretsManager.put('login-queue/masking-key', maskingSecret('k1'));
  await pipeline.reset();
  await pipeline.db.pool.query('TRUNCATE pii_recovery_audit, erasure_audit');
  stderr = [];
  const write = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk, ...rest) => {
    stderr.push(String(chunk));
    return write(chunk as string, ...(rest as []));
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

const invoke = async (event: object) => {
  const response = await ops.handler(event, localContext('login-queue-ops'));
  return { status: response.statusCode, body: JSON.parse(response.body) };
};
/** A function URL event carrying `request` and a caller proof signed by `identity`. */
const proven = async (request: unknown, identity = OPERATOR, functionArn = OPS_ARN) => {
  const requestText = typeof request === 'string' ? request : JSON.stringify(request);
  const stsEndpoint = new URL(sts.url);
  const target = { functionArn, region: 'us-east-1', stsEndpoint };
  const proof = await signCallerProof(identity, target, requestText);
  return functionUrlEvent({ request: requestText, proof });
};
const auditLines = () =>
  stderr
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{"audit"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
const auditRows = async () =>
  (await pipeline.db.pool.query('SELECT operator, token, field, reason FROM pii_recovery_audit'))
    .rows;
/** Visible and in-flight messages of a queue. */
const depthOf = async (QueueUrl: string) =>
  (
    await sqsClientFor(pipeline.aws.sqsEndpoint).send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    )
  ).Attributes;

const ipTokenOf = async (userId: string) => {
  const { rows } = await pipeline.db.pool.query(
    'SELECT masked_ip FROM user_logins WHERE user_id = $1',
    [userId],
  );
  return rows[0].masked_ip as string;
};

describe('unmask in the operations function', () => {
  it('returns the value to the verified IAM caller and records that caller as the operator', async () => {
    // Arrange
    await pipeline.handler(
      sqsEvent([loginBody({ user_id: 'ann', ip: '203.0.113.77' })]),
      localContext(),
    );
    const token = await ipTokenOf('ann');
    // Act
    const { status, body } = await invoke(
      await proven({ command: 'unmask', token, reason: 'fraud case 9', operator: 'forged' }),
    );
    // Assert
    expect(status).toBe(200);
    expect(body).toMatchObject({ field: 'ip', value: '203.0.113.77', operator: ALICE });
    expect(await auditRows()).toEqual([
      { operator: ALICE, token, field: 'ip', reason: 'fraud case 9' },
    ]);
    expect(auditLines()).toEqual([
      expect.objectContaining({ operator: ALICE, token, outcome: 'recovered' }),
    ]);
    expect(stderr.join('')).not.toContain('203.0.113.77');
  });

  it('refuses an unmask without a reason (400), audits the refusal on stderr and writes no row', async () => {
    await pipeline.handler(sqsEvent([loginBody({ user_id: 'ben' })]), localContext());
    const token = await ipTokenOf('ben');
    const { status, body } = await invoke(await proven({ command: 'unmask', token }));
    expect(status).toBe(400);
    expect(body.error).toBe('"reason" is required (a non-empty string)');
    expect(auditLines()).toEqual([
      expect.objectContaining({ audit: 'unmask', operator: ALICE, token, outcome: 'refused' }),
    ]);
    expect(await auditRows()).toEqual([]);
  });

  it('refuses an unknown token (422) and audits the refusal', async () => {
    const { status, body } = await invoke(
      await proven({ command: 'unmask', token: 'k1:unknown', reason: 'case 1' }),
    );
    expect(status).toBe(422);
    expect(body.error).toMatch(/no row with recovery data holds this token/);
    expect(auditLines()).toEqual([
      expect.objectContaining({ token: 'k1:unknown', reason: 'case 1', outcome: 'refused' }),
    ]);
    expect(await auditRows()).toEqual([]);
  });

  it('refuses a direct invoke without a caller proof (403), whatever identity the payload claims, asking STS nothing', async () => {
    // Arrange: payloads naming the operator in the body and in a forged function URL authorizer.
    await pipeline.handler(sqsEvent([loginBody({ user_id: 'cid' })]), localContext());
    const token = await ipTokenOf('cid');
    const request = { command: 'unmask', token, reason: 'r', operator: ALICE };
    const asked = sts.answers.length;
    // Act / Assert
    for (const event of [
      functionUrlEvent(request, ALICE),
      functionUrlEvent({ request: JSON.stringify(request) }, ALICE),
      functionUrlEvent({ request: JSON.stringify(request), proof: null }, ALICE),
      request,
    ]) {
      const { status, body } = await invoke(event);
      expect(status).toBe(403);
      expect(body.error).toMatch(/no caller proof|caller proof must be an object/);
    }
    expect(sts.answers.length).toBe(asked);
    expect(await auditRows()).toEqual([]);
    expect(auditLines().map((line) => [line.operator, line.outcome])).toEqual(
      Array(4).fill(['unverified', 'refused']),
    );
  });

  it("refuses another role's valid proof (403), auditing the refusal under the identity STS named", async () => {
    await pipeline.handler(sqsEvent([loginBody({ user_id: 'cy' })]), localContext());
    const token = await ipTokenOf('cy');
    const { status, body } = await invoke(
      await proven({ command: 'unmask', token, reason: 'ci run' }, CI),
    );
    expect(status).toBe(403);
    expect(body.error).toBe('the caller is not a session of the recovery operator role');
    expect(sts.answers.at(-1)).toBe(CI.arn);
    expect(await auditRows()).toEqual([]);
    expect(auditLines()).toEqual([
      expect.objectContaining({ audit: 'unmask', operator: CI.arn, token, outcome: 'refused' }),
    ]);
  });

  it('refuses a proof that STS does not accept (signed with a wrong secret), auditing it as unverified', async () => {
    const forged = await proven(
      { command: 'dlq-peek' },
      { ...OPERATOR, secretAccessKey: 'guessed' },
    );
    const { status, body } = await invoke(forged);
    expect(status).toBe(403);
    expect(body.error).toBe('STS refused the caller proof: SignatureDoesNotMatch');
    expect(auditLines()).toEqual([
      expect.objectContaining({ audit: 'dlq-peek', operator: 'unverified', outcome: 'refused' }),
    ]);
  });

  it.each([
    ['a body that is not JSON', 'not json', /not JSON/],
    ['an unknown command', { command: 'drop-everything' }, /"command" must be one of/],
    ['a batch size out of range', { command: 'rekey', batchSize: 0 }, /"batchSize"/],
  ])('answers %s with 400 and a message', async (_, request, message) => {
    const { status, body } = await invoke(await proven(request));
    expect(status).toBe(400);
    expect(body.error).toMatch(message);
  });
});

describe('a failure in the operations function', () => {
  it('answers 500 naming only the error, when a key ring cannot be read', async () => {
    // Arrange: a container whose recovery secret id names no secret.
    await pipeline.handler(sqsEvent([loginBody({ user_id: 'fay' })]), localContext());
    const token = await ipTokenOf('fay');
    const broken = loadBundleModule<OpsHandler>(
      { ...ops.env, RECOVERY_SECRET_ID: 'login-queue/no-such-secret' },
      'ops',
    );
    try {
      // Act
      const response = await broken.handler(
        await proven({ command: 'unmask', token, reason: 'case 5' }),
        localContext('login-queue-ops'),
      );
      // Assert
      expect(response.statusCode).toBe(500);
      expect(JSON.parse(response.body)).toEqual({
        error: "the operation failed (ConfigError); see the function's log",
      });
      expect(auditLines()).toEqual([
        expect.objectContaining({
          token,
          outcome: 'refused',
          error: expect.stringMatching(/no-such-secret/),
        }),
      ]);
      expect(await auditRows()).toEqual([]);
    } finally {
      await broken.close();
    }
  });
});

describe('rekey, DLQ peek and redrive in the operations function', () => {
  it('re-keys rows to the current masking key as login_queue_operator', async () => {
    // Arrange: rows on k1, then k2 made current.
    await pipeline.handler(
      sqsEvent(['r1', 'r2', 'r3'].map((u) => loginBody({ user_id: u }))),
      localContext(),
    );
    const rotated = JSON.stringify({
      ...JSON.parse(maskingSecret('k1')),
      ...JSON.parse(maskingSecret('k2')),
      current: 'k2',
    });
    pipeline.aws.secretsManager.put('login-queue/masking-key', rotated);
    // Act
    const { status, body } = await invoke(await proven({ command: 'rekey', batchSize: 2 }));
    // Assert
    expect(status).toBe(200);
    expect(body).toEqual({ rekeyed: 3, batches: 2, withoutRecoveryData: 0, keyId: 'k2' });
    const { rows } = await pipeline.db.pool.query('SELECT DISTINCT key_id FROM user_logins');
    expect(rows).toEqual([{ key_id: 'k2' }]);
  });

  it('peeks at the dead letters without consuming them, and redrives them with signed markers', async () => {
    // Arrange: two invalid messages, dead-lettered by the pipeline's handler.
    await pipeline.handler(sqsEvent(['not json', '{}']), localContext());
    // Act
    const peek = await invoke(await proven({ command: 'dlq-peek' }));
    const again = await invoke(await proven({ command: 'dlq-peek' }));
    const moved = await invoke(await proven({ command: 'redrive' }));
    // Assert
    expect(peek.status).toBe(200);
    expect(peek.body.total).toBe(2);
    expect(again.body.total).toBe(2);
    expect(moved.body).toMatchObject({
      method: 'receive-send-delete',
      moved: 2,
      total: 2,
      queueUrl: pipeline.aws.queueUrl,
    });
    expect((await invoke(await proven({ command: 'dlq-peek' }))).body.total).toBe(0);
    const back = await sqsClientFor(pipeline.aws.sqsEndpoint).send(
      new ReceiveMessageCommand({
        QueueUrl: pipeline.aws.queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    expect(back.Messages?.map((m) => m.Body).sort()).toEqual(['not json', '{}'].sort());
    for (const message of back.Messages ?? []) {
      expect(message.MessageAttributes?.SourceMessageSignature?.StringValue).toMatch(/^k1:/);
    }
  });
});

describe('forget in the operations function', () => {
  it('erases the user as login_queue_operator, the verified IAM caller as the operator, a token in the audit', async () => {
    // Arrange: two rows and one dead letter of the user, one row of another.
    await pipeline.handler(
      sqsEvent([
        loginBody({ user_id: 'gil-4711' }),
        loginBody({ user_id: 'gil-4711' }),
        loginBody({ user_id: 'gil-4711', ip: 'bad' }),
        loginBody({ user_id: 'hal' }),
      ]),
      localContext(),
    );
    // Act
    const { status, body } = await invoke(
      await proven({
        command: 'forget',
        userId: 'gil-4711',
        reason: 'erasure request 5',
        deleteDeadLetters: true,
        operator: 'forged',
      }),
    );
    // Assert
    expect(status).toBe(200);
    expect(body).toMatchObject({
      operator: ALICE,
      dbUser: operator.role,
      userToken: expect.stringMatching(/^k1:[\w-]{43}$/),
      rowsDeleted: 2,
      deadLetters: { matched: 1, deleted: 1, leftHidden: 0 },
    });
    expect(await pipeline.db.count()).toBe(1);
    const { rows } = await pipeline.db.pool.query(
      'SELECT operator, db_user, user_token, reason, rows_deleted::int AS n FROM erasure_audit',
    );
    expect(rows).toEqual([
      {
        operator: ALICE,
        db_user: operator.role,
        user_token: body.userToken,
        reason: 'erasure request 5',
        n: 2,
      },
    ]);
    expect(auditLines()).toEqual([
      expect.objectContaining({ audit: 'forget', operator: ALICE, userToken: body.userToken }),
    ]);
    expect(stderr.join('')).not.toContain('gil-4711');
  });

  it('refuses a forget whose reason holds the user id (400), erasing nothing', async () => {
    await pipeline.handler(sqsEvent([loginBody({ user_id: 'ivy-1' })]), localContext());
    const { status, body } = await invoke(
      await proven({ command: 'forget', userId: 'ivy-1', reason: 'asked by ivy-1' }),
    );
    expect(status).toBe(400);
    expect(body.error).toMatch(/must not contain the user id/);
    expect(await pipeline.db.count()).toBe(1);
  });
});

describe('login_queue_operator in the database', () => {
  it('holds UPDATE on the token columns and key_id, DELETE and SELECT (user_id) for erasure, INSERT into the erasure audit, and reads through login_queue_recovery', async () => {
    const { rows } = await pipeline.db.pool.query(
      `SELECT table_name, privilege_type, string_agg(column_name, ',' ORDER BY column_name) AS columns
         FROM information_schema.column_privileges WHERE grantee = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [OPERATOR_ROLE],
    );
    // A table-wide privilege shows on every column; DELETE has none.
    expect(rows).toEqual([
      {
        table_name: 'erasure_audit',
        privilege_type: 'INSERT',
        columns:
          'dead_letters_deleted,dead_letters_matched,operator,reason,rows_deleted,user_token',
      },
      { table_name: 'user_logins', privilege_type: 'SELECT', columns: 'user_id' },
      {
        table_name: 'user_logins',
        privilege_type: 'UPDATE',
        columns: 'key_id,masked_device_id,masked_ip',
      },
    ]);
    const tables = await pipeline.db.pool.query(
      'SELECT table_name, privilege_type FROM information_schema.table_privileges WHERE grantee = $1',
      [OPERATOR_ROLE],
    );
    expect(tables.rows).toEqual([{ table_name: 'user_logins', privilege_type: 'DELETE' }]);
    const member = await pipeline.db.pool.query(
      "SELECT pg_has_role($1, 'login_queue_recovery', 'MEMBER') AS m, rolsuper, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = $1",
      [OPERATOR_ROLE],
    );
    expect(member.rows).toEqual([
      { m: true, rolsuper: false, rolcreaterole: false, rolcanlogin: true },
    ]);
  });

  it.each([
    ['truncate the table', 'TRUNCATE user_logins'],
    ['read the erasure audit', 'SELECT * FROM erasure_audit'],
    ['rewrite the erasure audit', "UPDATE erasure_audit SET reason = 'other'"],
    ['delete the erasure audit', 'DELETE FROM erasure_audit'],
    [
      'forge the erasure audit’s time or database user',
      "INSERT INTO erasure_audit (at, db_user, operator, user_token, reason, rows_deleted, dead_letters_matched, dead_letters_deleted) VALUES (now(), 'x', 'x', 'x', 'x', 0, 0, 0)",
    ],
    ['write user_id', "UPDATE user_logins SET user_id = 'forged'"],
    ['write the sealed PII', 'UPDATE user_logins SET pii_sealed = NULL'],
    ['write recovery_key_id', "UPDATE user_logins SET recovery_key_id = 'r9'"],
    ['insert rows', "INSERT INTO user_logins (message_id) VALUES ('forged')"],
    ['rewrite the audit trail', "UPDATE pii_recovery_audit SET operator = 'someone else'"],
    ['delete the audit trail', 'DELETE FROM pii_recovery_audit'],
    ['create a table', 'CREATE TABLE stolen (a int)'],
    ['drop the table', 'DROP TABLE user_logins'],
    ['add a column', 'ALTER TABLE user_logins ADD COLUMN extra int'],
    ['create a role', 'CREATE ROLE intruder'],
  ])('cannot %s', async (_, sql) => {
    await pipeline.handler(sqsEvent([loginBody()]), localContext());
    const client = createClient(operator.url);
    await client.connect();
    try {
      await expect(client.query(sql)).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
    expect(await pipeline.db.count()).toBe(1);
  });
});

describe('the operator commands with --function-url', () => {
  // What the function URL would put in the event: unlike STS's answer, never believed.
  const CLAIMED = 'arn:aws:sts::123456789012:assumed-role/RecoveryOperatorRole/claimed-by-event';
  let url: LocalFunctionUrl;
  // The stack's OpsFunctionUrl output: the URL and the function's ARN.
  let target: string;
  beforeAll(async () => {
    url = await startFunctionUrl(
      (event, context) => ops.handler(event, context),
      localContext('login-queue-ops'),
      // The URL admits the CI role too, as an account-wide lambda:* policy would.
      { [OPERATOR.accessKeyId]: CLAIMED, [CI.accessKeyId]: CI.arn },
    );
    target = `${url.url}?function=${OPS_ARN}`;
  });
  afterAll(() => url?.stop());

  // Only the caller's AWS settings: no database, no key ring, no queue URL.
  const run = (
    script: string,
    args: string[],
    identity = OPERATOR,
    functionUrl = target,
    clockOffsetMs = 0,
  ) =>
    promisify(execFile)('node', ['--import', 'tsx', ...clock(clockOffsetMs), script, ...args], {
      env: {
        CLOCK_OFFSET_MS: String(clockOffsetMs),
        PATH: process.env.PATH,
        AWS_ACCESS_KEY_ID: identity.accessKeyId,
        AWS_SECRET_ACCESS_KEY: identity.secretAccessKey,
        AWS_SESSION_TOKEN: identity.sessionToken,
        AWS_ENDPOINT_URL_STS: sts.url,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        OPS_FUNCTION_URL: functionUrl,
      },
    });
  const clock = (offsetMs: number) =>
    offsetMs === 0 ? [] : ['--import', './test/helpers/clock-offset.ts'];
  const refusal = async (running: Promise<unknown>) => {
    const failure = (await running.then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    )) as { code: number; stderr: string };
    return { code: failure.code, stderr: failure.stderr };
  };

  it('unmask runs in the function, signed with SigV4 for lambda, and the audit names the caller STS verified', async () => {
    // Arrange
    await pipeline.handler(
      sqsEvent([loginBody({ user_id: 'dora', ip: '192.0.2.201' })]),
      localContext(),
    );
    const token = await ipTokenOf('dora');
    // Act
    const { stdout, stderr: err } = await run('lambda/cli/unmask.ts', [
      token,
      '--reason',
      'legal request 12',
      '--function-url',
      target,
    ]);
    // Assert
    expect(stdout).toBe('192.0.2.201\n');
    const line = JSON.parse(err.trim().split('\n').pop() ?? '{}');
    expect(line).toMatchObject({ audit: 'unmask', operator: ALICE, token, outcome: 'recovered' });
    expect(err).not.toContain('192.0.2.201');
    const seen = url.requests.at(-1);
    expect(seen?.method).toBe('POST');
    expect(String(seen?.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIAOPERATOR\/\d{8}\/us-east-1\/lambda\/aws4_request, SignedHeaders=[^,]*host[^,]*x-amz-date/,
    );
    expect(sts.answers.at(-1)).toBe(ALICE);
    expect(seen?.headers['x-amz-content-sha256'] ?? seen?.headers['x-amz-date']).toBeDefined();
    expect(await auditRows()).toEqual([
      { operator: ALICE, token, field: 'ip', reason: 'legal request 12' },
    ]);
  });

  it('rekey, dlq --peek and redrive run in the function, with the URL from the flag or OPS_FUNCTION_URL', async () => {
    await pipeline.handler(sqsEvent(['not json', loginBody({ user_id: 'eve' })]), localContext());
    pipeline.aws.secretsManager.put(
      'login-queue/masking-key',
      JSON.stringify({
        ...JSON.parse(maskingSecret('k1')),
        ...JSON.parse(maskingSecret('k2')),
        current: 'k2',
      }),
    );
    const rekeyed = await run('lambda/cli/rekey.ts', []);
    expect(rekeyed.stdout).toBe(
      're-keyed 1 rows to key "k2" in 1 batches; 0 rows on older keys have no recovery data and keep their tokens\n',
    );
    const peek = await run('lambda/cli/dlq.ts', ['--peek', '--function-url', target]);
    expect(JSON.parse(peek.stdout)).toMatchObject({ total: 1 });
    const moved = await run('lambda/cli/dlq.ts', ['--redrive', '--function-url', target]);
    expect(moved.stdout).toBe(`moved 1 messages back to ${pipeline.aws.queueUrl}\n`);
  });

  it('rekey, redrive and forget --dry-run run in the function, change nothing, and the runs then do what they said', async () => {
    // Arrange: a dead letter, rows on k1, and k2 made current.
    await pipeline.handler(
      sqsEvent(['not json', loginBody({ user_id: 'kim-5' }), loginBody({ user_id: 'lu-6' })]),
      localContext(),
    );
    pipeline.aws.secretsManager.put(
      'login-queue/masking-key',
      JSON.stringify({
        ...JSON.parse(maskingSecret('k1')),
        ...JSON.parse(maskingSecret('k2')),
        current: 'k2',
      }),
    );
    const state = async () => ({
      rows: (
        await pipeline.db.pool.query(
          'SELECT key_id, user_id, masked_ip FROM user_logins ORDER BY user_id',
        )
      ).rows,
      erasures: (await pipeline.db.pool.query('SELECT count(*)::int AS n FROM erasure_audit')).rows,
      dlq: await depthOf(pipeline.aws.dlqUrl),
      queue: await depthOf(pipeline.aws.queueUrl),
    });
    const before = await state();
    // Act
    const rekey = await run('lambda/cli/rekey.ts', ['--dry-run']);
    const redrive = await run('lambda/cli/dlq.ts', ['--redrive', '--dry-run']);
    const forget = await run('lambda/cli/forget.ts', [
      ...['--user-id', 'kim-5', '--reason', 'erasure request 9', '--dry-run'],
    ]);
    // Assert
    expect(rekey.stdout).toBe(
      'dry run: would re-key 2 rows to key "k2" (2 on "k1"); 0 rows on older keys have no recovery data and would keep their tokens; nothing was changed\n',
    );
    expect(redrive.stdout).toBe(
      `dry run: would move 1 messages back to ${pipeline.aws.queueUrl} (body.not_json 1); nothing was moved\n`,
    );
    expect(JSON.parse(forget.stdout)).toMatchObject({
      dryRun: true,
      rows: 1,
      deadLetters: { matched: 0, wouldDelete: 0 },
    });
    expect(await state()).toEqual(before);
    expect(auditLines().filter((line) => line.audit === 'forget')).toEqual([]);
    // The real runs do what the previews said.
    expect((await run('lambda/cli/rekey.ts', [])).stdout).toMatch(/^re-keyed 2 rows/);
    expect((await run('lambda/cli/dlq.ts', ['--redrive'])).stdout).toMatch(/^moved 1 messages/);
    const erased = await run('lambda/cli/forget.ts', [
      ...['--user-id', 'kim-5', '--reason', 'erasure request 9'],
    ]);
    expect(JSON.parse(erased.stdout)).toMatchObject({ rowsDeleted: 1 });
  });

  it('forget runs in the function and prints its audit record, never the user id', async () => {
    await pipeline.handler(
      sqsEvent([loginBody({ user_id: 'jo-31' }), loginBody({ user_id: 'jo-31', ip: 'x' })]),
      localContext(),
    );
    const { stdout, stderr: err } = await run('lambda/cli/forget.ts', [
      '--user-id',
      'jo-31',
      '--reason',
      'erasure request 2026-17',
      '--function-url',
      target,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({
      operator: ALICE,
      rowsDeleted: 1,
      deadLetters: { matched: 1, deleted: 0 },
    });
    expect(err).toBe('1 dead letter still mentions this user; --delete-dead-letters deletes it\n');
    expect(stdout).not.toContain('jo-31');
    expect(await pipeline.db.count()).toBe(0);
  });

  it('unmask of an unknown token exits 1 with the reason, audited as refused', async () => {
    const refused = run('lambda/cli/unmask.ts', ['k1:unknown', '--reason', 'case 8']);
    await expect(refused).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/no row with recovery data holds this token/),
    });
    const err = await refused.catch((error: { stderr: string }) => error.stderr);
    const line = JSON.parse(
      String(err)
        .trim()
        .split('\n')
        .find((l) => l.startsWith('{')) ?? '{}',
    );
    expect(line).toMatchObject({ audit: 'unmask', token: 'k1:unknown', outcome: 'refused' });
    expect(await auditRows()).toEqual([]);
  });

  it('fails with exit 1 and the answer when the function URL refuses the signer', async () => {
    const stranger = { ...OPERATOR, accessKeyId: 'AKIDSTRANGER', arn: 'none' };
    const refused = run('lambda/cli/dlq.ts', ['--peek'], stranger);
    await expect(refused).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/answered 403: Forbidden/),
    });
  });

  it("refuses another role's signed proof (403): nothing unmasked, the refusal audited under that role's session", async () => {
    await pipeline.handler(sqsEvent([loginBody({ user_id: 'kit' })]), localContext());
    const token = await ipTokenOf('kit');
    const { code, stderr: err } = await refusal(
      run('lambda/cli/unmask.ts', [token, '--reason', 'ci job'], CI),
    );
    expect(code).toBe(1);
    expect(err).toMatch(/answered 403: the caller is not a session of the recovery operator role/);
    expect(await auditRows()).toEqual([]);
    expect(auditLines()).toEqual([
      expect.objectContaining({ audit: 'unmask', operator: CI.arn, token, outcome: 'refused' }),
    ]);
  });

  it('refuses a replayed proof (403): the request the operator sent, invoked again with its proof', async () => {
    // Arrange: the operator's unmask, and the exact body it sent.
    await pipeline.handler(
      sqsEvent([loginBody({ user_id: 'lou', ip: '192.0.2.77' })]),
      localContext(),
    );
    const token = await ipTokenOf('lou');
    await run('lambda/cli/unmask.ts', [token, '--reason', 'case 31']);
    const sent = url.requests.at(-1)?.body ?? '';
    const asked = sts.answers.length;
    // Act: the same body, invoked directly, and again through the URL.
    const direct = await invoke(functionUrlEvent(sent));
    const again = await ops.handler(
      functionUrlEvent(sent, CLAIMED),
      localContext('login-queue-ops'),
    );
    // Assert
    for (const answer of [direct.body, JSON.parse(again.body)])
      expect(answer).toEqual({ error: 'the caller proof was already used' });
    expect(again.statusCode).toBe(403);
    expect(direct.status).toBe(403);
    expect(sts.answers.length).toBe(asked);
    expect(JSON.stringify([direct.body, again.body])).not.toContain('192.0.2.77');
    expect(await auditRows()).toEqual([{ operator: ALICE, token, field: 'ip', reason: 'case 31' }]);
    expect(auditLines().slice(-2)).toEqual([
      expect.objectContaining({ operator: 'unverified', token, outcome: 'refused' }),
      expect.objectContaining({ operator: 'unverified', token, outcome: 'refused' }),
    ]);
  });

  it('refuses an expired proof (403): one signed more than 5 minutes before it reaches the function', async () => {
    // The operator's command runs with its clock 6 minutes behind: its proof is 6 minutes old.
    const { code, stderr: err } = await refusal(
      run('lambda/cli/dlq.ts', ['--peek'], OPERATOR, target, -6 * 60_000),
    );
    expect(code).toBe(1);
    expect(err).toMatch(/answered 403: the caller proof has expired \(proofs last 5 minutes\)/);
    expect(auditLines()).toEqual([
      expect.objectContaining({ audit: 'dlq-peek', operator: 'unverified', outcome: 'refused' }),
    ]);
  });

  it('refuses a proof signed for another function (403)', async () => {
    const other = `${url.url}?function=arn:aws:lambda:us-east-1:000000000000:function:other-ops`;
    const { code, stderr: err } = await refusal(
      run('lambda/cli/dlq.ts', ['--peek'], OPERATOR, other),
    );
    expect(code).toBe(1);
    expect(err).toMatch(/answered 403: the caller proof was signed for another function/);
  });

  it('refuses --operator with --function-url: the operator is the IAM identity', async () => {
    const forged = run('lambda/cli/unmask.ts', ['k1:x', '--reason', 'r', '--operator', 'bob']);
    await expect(forged).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--operator cannot be given with --function-url/),
    });
    expect(await auditRows()).toEqual([]);
  });
});
