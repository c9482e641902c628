/**
 * Analysts sign in as login_queue_analyst: migration 9 lets the role log in (and gives it
 * rds_iam where RDS's role exists), migration 10 gives its sessions their own timeouts, and
 * `npm run db:connect` prints a psql line that works as pasted: locally with a fresh password,
 * in AWS with an IAM token for the endpoint, through the port-forwarding session's local port.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYST_ROLE } from '../../lambda/contract/roles';
import { migrate } from '../../lambda/db/migrate';
import { MIGRATIONS } from '../../lambda/db/migrations';
import { withClient } from '../../lambda/db/pool';
import { cleanEnv, runScript } from '../helpers/cli';
import { createTestDatabase, serverChecksPasswords, type TestDatabase } from '../helpers/database';
import { startTcpProxy } from '../helpers/tcp-proxy';

const dir = mkdtempSync(join(tmpdir(), 'login-queue-db-connect-'));
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.pool);
  await db.pool.query(
    "INSERT INTO user_logins (message_id, user_id, masked_ip, create_date, pii_sealed) VALUES ('m1', 'u1', 'k1:ip', current_date, '\\x00')",
  );
});

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

interface Login {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  /** Every key=value of the connection string psql was given. */
  readonly conninfo: Record<string, string>;
}

/**
 * What psql receives when `line` is pasted into a shell: a stand-in psql on PATH reports its
 * PGPASSWORD and arguments.
 */
function pasted(line: string): Login {
  const bin = join(dir, 'bin');
  execFileSync('mkdir', ['-p', bin]);
  writeFileSync(
    join(bin, 'psql'),
    `#!/bin/sh\nexec node -e 'process.stdout.write(JSON.stringify({ password: process.env.PGPASSWORD, args: process.argv.slice(1) }))' -- "$@"\n`,
  );
  chmodSync(join(bin, 'psql'), 0o755);
  const { password, args } = JSON.parse(
    execFileSync('sh', ['-c', line], {
      env: cleanEnv({ PATH: `${bin}:${process.env.PATH ?? ''}` }),
      encoding: 'utf8',
    }),
  ) as { password: string; args: string[] };
  expect(args).toHaveLength(1);
  const conninfo = Object.fromEntries(
    (args[0] ?? '').split(' ').map((pair) => pair.split('=', 2) as [string, string]),
  );
  return {
    host: conninfo.host ?? '',
    port: Number(conninfo.port),
    database: conninfo.dbname ?? '',
    user: conninfo.user ?? '',
    password,
    conninfo,
  };
}

/** Runs `sql` signed in as `login`. */
const asLogin = (login: Login, sql: string) =>
  withClient({ ...login, connectionTimeoutMillis: 10_000 }, (client) => client.query(sql));

/** Signs login_queue_analyst in with a password the test sets on the migrated database. */
async function analystLogin(): Promise<Login> {
  const password = `analyst-${Date.now()}`;
  await db.pool.query(`ALTER ROLE ${ANALYST_ROLE} PASSWORD '${password}'`);
  const url = new URL(db.url);
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    database: url.pathname.slice(1),
    user: ANALYST_ROLE,
    password,
    conninfo: {},
  };
}

describe('migration 9', () => {
  it('lets login_queue_analyst log in, to read the analytics view but not the sealed PII', async () => {
    // Arrange: a password set by the test (the database was migrated in beforeAll).
    const login = await analystLogin();
    // Act
    const who = await asLogin({ ...login, conninfo: {} }, 'SELECT current_user AS u');
    const view = await asLogin(
      { ...login, conninfo: {} },
      'SELECT user_id, masked_ip FROM user_logins_analytics',
    );
    // Assert
    expect(who.rows).toEqual([{ u: ANALYST_ROLE }]);
    expect(view.rows).toEqual([{ user_id: 'u1', masked_ip: 'k1:ip' }]);
    await expect(
      asLogin({ ...login, conninfo: {} }, 'SELECT pii_sealed FROM user_logins'),
    ).rejects.toMatchObject({ code: '42501' });
  });

  it('grants login_queue_analyst rds_iam where that role exists, as on RDS', async () => {
    // Arrange: RDS's rds_iam, created and used in one transaction that is rolled back: roles
    // are cluster-wide, and no other test file ever sees this one.
    const fresh = await createTestDatabase();
    const client = await fresh.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`DO $$ BEGIN CREATE ROLE rds_iam NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
      // Act: every migration, as migrate applies them.
      for (const migration of MIGRATIONS) await client.query(migration.sql);
      // Assert
      const { rows } = await client.query(
        "SELECT rolcanlogin, pg_has_role(rolname, 'rds_iam', 'MEMBER') AS iam FROM pg_roles WHERE rolname = $1",
        [ANALYST_ROLE],
      );
      expect(rows).toEqual([{ rolcanlogin: true, iam: true }]);
    } finally {
      await client.query('ROLLBACK');
      client.release();
      await fresh.drop();
    }
  });

  it('applies where no rds_iam exists (PostgreSQL elsewhere than RDS)', async () => {
    // Arrange
    const fresh = await createTestDatabase();
    try {
      const rdsIam = await fresh.pool.query("SELECT FROM pg_roles WHERE rolname = 'rds_iam'");
      // Act
      const result = await migrate(fresh.pool);
      // Assert
      expect(result.applied).toContain(9);
      const { rows } = await fresh.pool.query(
        'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
        [ANALYST_ROLE],
      );
      expect(rows).toEqual([{ rolcanlogin: true }]);
      // Another file may hold RDS's role for a moment (writer-role.test.ts).
      if (rdsIam.rowCount === 0) {
        const after = await fresh.pool.query("SELECT FROM pg_roles WHERE rolname = 'rds_iam'");
        expect(after.rowCount).toBe(0);
      }
    } finally {
      await fresh.drop();
    }
  });
});

describe('migration 10', () => {
  it("gives login_queue_analyst's sessions their own timeouts, longer than the pipeline's", async () => {
    // Arrange: a password set by the test (the database was migrated in beforeAll).
    const login = await analystLogin();
    // Act
    const { rows } = await asLogin(
      login,
      `SELECT current_setting('statement_timeout') AS statement,
              current_setting('idle_in_transaction_session_timeout') AS idle_in_transaction,
              current_setting('idle_session_timeout') AS idle_session`,
    );
    // Assert
    expect(rows).toEqual([
      { statement: '15min', idle_in_transaction: '10min', idle_session: '1h' },
    ]);
  });
});

describe('npm run db:connect, locally', () => {
  it('prints a psql line that signs in as login_queue_analyst with a new password, and never the admin password', async () => {
    // Arrange: the admin URL as a user gives it, with a password (a server that trusts local
    // connections ignores it), so the test can see that it is never printed.
    const admin = new URL(db.url);
    admin.password ||= 'admin-password-never-printed';
    // Act
    const result = await runScript(
      'db:connect',
      ['--role', 'analyst'],
      cleanEnv({ DATABASE_URL: admin.href }),
    );
    // Assert: one line on stdout, that works as pasted.
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      expect.stringMatching(/^PGPASSWORD=\S+ psql "/),
      '',
    ]);
    expect(result.stdout + result.stderr).not.toContain(admin.password);
    expect(result.stderr).toContain('until the next db:connect');
    const login = pasted(result.stdout);
    expect(login).toMatchObject({
      host: admin.hostname,
      port: Number(admin.port || 5432),
      database: admin.pathname.slice(1),
      user: ANALYST_ROLE,
    });
    expect(login.password).toMatch(/^[\w-]{32}$/);
    expect((await asLogin(login, 'SELECT current_user AS u')).rows).toEqual([{ u: ANALYST_ROLE }]);
    const { rows } = await asLogin(
      login,
      'SELECT count(*)::int AS n FROM user_logins_analytics WHERE create_date > current_date - 7',
    );
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('ends the previous password: each db:connect is a new sign-in', async ({ skip }) => {
    if (!(await serverChecksPasswords())) skip('this server trusts local connections');
    // Arrange
    const env = cleanEnv({ DATABASE_URL: db.url });
    const first = pasted((await runScript('db:connect', [], env)).stdout);
    // Act
    const second = pasted((await runScript('db:connect', [], env)).stdout);
    // Assert: 28P01, invalid_password.
    expect(second.password).not.toBe(first.password);
    await expect(asLogin(first, 'SELECT 1')).rejects.toMatchObject({ code: '28P01' });
    expect((await asLogin(second, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('names the admin database that cannot be reached, in one line, exit 1, without its password', async () => {
    // Arrange: a local port nothing listens on.
    const proxy = await startTcpProxy('127.0.0.1', 9);
    await proxy.stop();
    // Act
    const result = await runScript('db:connect', [
      '--database-url',
      `postgres://postgres:hunter2@127.0.0.1:${proxy.port}/logins`,
    ]);
    // Assert
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^db:connect failed: PostgreSQL at 127\\.0\\.0\\.1:${proxy.port}/logins: .*ECONNREFUSED`,
      ),
    );
    expect(result.stderr).not.toContain('hunter2');
  });
});

describe('npm run db:connect, in AWS', () => {
  const host = 'login-queue-db.c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com';
  // Static credentials, as the default chain reads them from the environment; the token is
  // signed here, and nothing reaches AWS.
  const credentials = {
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  };

  it('prints a token signed for the endpoint and a psql line to the local end of the port-forwarding session', async () => {
    // Act: DATABASE_URL set too, as after a local session: the AWS mode ignores it.
    const result = await runScript(
      'db:connect',
      ['--role', 'analyst', '--host', host, '--local-port', '15432'],
      cleanEnv({ ...credentials, DATABASE_URL: 'postgres://postgres:admin-secret@127.0.0.1/x' }),
      dir,
    );
    // Assert
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toHaveLength(2);
    const login = pasted(result.stdout);
    const token = new URL(`https://${login.password}`);
    expect(token.host).toBe(`${host}:5432`);
    expect(Object.fromEntries(token.searchParams)).toMatchObject({
      Action: 'connect',
      DBUser: ANALYST_ROLE,
      'X-Amz-Expires': '900',
      'X-Amz-Credential': expect.stringMatching(
        /^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/rds-db\/aws4_request$/,
      ),
      'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // verify-full: the certificate is checked against the endpoint (host), while the TCP
    // connection goes to the session's local end (hostaddr).
    expect(login.conninfo).toEqual({
      host,
      hostaddr: '127.0.0.1',
      port: '15432',
      dbname: 'logins',
      user: ANALYST_ROLE,
      sslmode: 'verify-full',
      sslrootcert: join(dir, 'global-bundle.pem'),
    });
    expect(result.stderr).toContain('valid 15 minutes');
    expect(result.stderr).toContain(
      'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem',
    );
    for (const secret of [credentials.AWS_SECRET_ACCESS_KEY, 'admin-secret'])
      expect(result.stdout + result.stderr).not.toContain(secret);
  });

  it('signs for the port and region given', async () => {
    const result = await runScript(
      'db:connect',
      ['--host', 'db.internal.example', '--port', '6543', '--region', 'us-west-2'],
      cleanEnv(credentials),
    );
    expect(result.code, result.stderr).toBe(0);
    const token = new URL(`https://${pasted(result.stdout).password}`);
    expect(token.host).toBe('db.internal.example:6543');
    expect(token.searchParams.get('X-Amz-Credential')).toContain('/us-west-2/rds-db/');
    // The local port defaults to 15432, clear of a local PostgreSQL's 5432.
    expect(pasted(result.stdout).conninfo).toMatchObject({
      host: 'db.internal.example',
      hostaddr: '127.0.0.1',
      port: '15432',
    });
  });

  it('finds the CA bundle from the directory npm run was typed in (INIT_CWD)', async () => {
    // Arrange: npm run starts the command in the package's directory and sets INIT_CWD to
    // the user's.
    const typedIn = join(dir, 'analyst-home');
    // Act
    const relative = await runScript(
      'db:connect',
      ['--host', host, '--ca-bundle', 'certs/rds.pem'],
      cleanEnv({ ...credentials, INIT_CWD: typedIn }),
    );
    const absolute = await runScript(
      'db:connect',
      ['--host', host, '--ca-bundle', join(dir, 'elsewhere.pem')],
      cleanEnv({ ...credentials, INIT_CWD: typedIn }),
    );
    // Assert
    expect(relative.code, relative.stderr).toBe(0);
    expect(pasted(relative.stdout).conninfo.sslrootcert).toBe(join(typedIn, 'certs/rds.pem'));
    expect(relative.stderr).toContain(`${join(typedIn, 'certs/rds.pem')} does not exist`);
    expect(pasted(absolute.stdout).conninfo.sslrootcert).toBe(join(dir, 'elsewhere.pem'));
  });
});

describe('npm run db:connect refuses', () => {
  it.each([
    [['--role', 'writer'], '--role writer: login_queue_writer is the function'],
    [['--role', 'operator'], 'signing in directly would bypass that audit'],
    [['--role', 'dba'], '--role must be analyst, got "dba"'],
    [['--local-port', '15432'], '--local-port needs --host'],
    [['--host', 'h', '--port', '0'], '--port must be an integer from 1 to 65535'],
    [['--host', 'h', '--database-url', 'postgres://h/x'], 'not both'],
    [[], 'a database is needed: --database-url (or DATABASE_URL) for a local server, or --host'],
  ])('%j in one line, exit 2', async (args, message) => {
    const result = await runScript('db:connect', args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(message);
  });
});
