/**
 * TLS that really verifies: a PostgreSQL serving a certificate from a CA made here. The
 * shipped handler, in a process of its own (Node reads NODE_EXTRA_CA_CERTS at start, as the
 * Lambda runtime's does), connects with DB_SSL=verify-full and that CA, and refuses without
 * the CA or under a host name the certificate does not name.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITER_ROLE } from '../../lambda/contract/roles';
import { migrate } from '../../lambda/db/migrate';
import { endPool, withClient } from '../../lambda/db/pool';
import { localAwsEnv } from '../../lambda/local/aws';
import { type LocalPostgres, startLocalPostgres } from '../../lambda/local/postgres';
import {
  type LocalSecretsManager,
  startLocalSecretsManager,
} from '../../lambda/local/secrets-manager';
import { testPool } from '../helpers/database';
import { runHandlerProcess } from '../helpers/handler-process';
import { loginBody, maskingSecret, sqsEvent } from '../helpers/sqs';

const openssl = (dir: string, args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });

/** A CA, and a server certificate it signed for 127.0.0.1 only (no host names). */
async function makeCertificates(dir: string) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=login-queue test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(dir, [
    'req',
    ...ec,
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await writeFile(
    join(dir, 'server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n',
  );
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  const [cert, key] = await Promise.all(
    ['server.crt', 'server.key'].map((file) => readFile(join(dir, file), 'utf8')),
  );
  return { ca: join(dir, 'ca.pem'), cert: cert as string, key: key as string };
}

let dir: string;
let ca: string;
let postgres: LocalPostgres;
let secrets: LocalSecretsManager;
let env: Record<string, string>;

/** Rows of `userId`: each test writes as a user of its own, so any order of tests holds. */
const rowsOf = (userId: string) =>
  withClient(postgres.url, async (client) => {
    const { rows } = await client.query(
      'SELECT count(*)::int AS n FROM user_logins WHERE user_id = $1',
      [userId],
    );
    return rows[0].n as number;
  });

beforeAll(async () => {
  // Arrange, once: the server (its own cluster, so the writer role's password is ours to
  // set), migrated over a plain connection; the function's settings as in AWS.
  dir = await mkdtemp(join(tmpdir(), 'login-queue-tls-'));
  const certificates = await makeCertificates(dir);
  ca = certificates.ca;
  postgres = await startLocalPostgres({ tls: certificates });
  const admin = testPool({ connectionString: postgres.url, max: 1 });
  try {
    await migrate(admin);
    await admin.query(`ALTER ROLE ${WRITER_ROLE} PASSWORD 'tls-test'`);
  } finally {
    await endPool(admin);
  }
  secrets = await startLocalSecretsManager();
  const { DATABASE_URL: _, ...inherited } = process.env as Record<string, string>;
  env = {
    ...inherited,
    ...localAwsEnv('', secrets.endpoint),
    MASKING_SECRET_ID: secrets.put('mask', maskingSecret()),
    DB_HOST: '127.0.0.1',
    DB_PORT: String(postgres.port),
    DB_NAME: 'postgres',
    DB_USER: WRITER_ROLE,
    DB_PASSWORD_SECRET_ID: secrets.put('db', JSON.stringify({ password: 'tls-test' })),
    DB_SSL: 'verify-full',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
}, 120_000);

afterAll(async () => {
  await secrets?.stop();
  await postgres?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The cause code the handler logged when the batch could not be written. */
const refusal = (logs: readonly Record<string, unknown>[]) =>
  logs.find((line) => line.message === 'batch failed; records back off')?.causeCode;

describe('DB_SSL=verify-full', () => {
  it('connects and writes with the CA in NODE_EXTRA_CA_CERTS', async () => {
    const event = sqsEvent([loginBody({ user_id: 'with-ca' })]);
    const { response } = await runHandlerProcess({ ...env, NODE_EXTRA_CA_CERTS: ca }, event);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await rowsOf('with-ca')).toBe(1);
  });

  it('refuses a server whose CA it was not given, and writes nothing', async () => {
    const event = sqsEvent([loginBody({ user_id: 'no-ca' })]);
    const { error, logs } = await runHandlerProcess(env, event);
    // The batch cannot be written: its record backs off and the invocation fails.
    expect(error?.name).toBe('TransientError');
    expect(refusal(logs)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await rowsOf('no-ca')).toBe(0);
  });

  it('refuses a certificate that does not name the host it connected to', async () => {
    const event = sqsEvent([loginBody({ user_id: 'wrong-host' })]);
    const { error, logs } = await runHandlerProcess(
      { ...env, NODE_EXTRA_CA_CERTS: ca, DB_HOST: 'localhost' },
      event,
    );
    expect(error?.name).toBe('TransientError');
    expect(refusal(logs)).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(await rowsOf('wrong-host')).toBe(0);
  });
});
