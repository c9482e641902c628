/**
 * The function's database principal: the bundled handler logs in as login_queue_writer (a
 * test login inheriting exactly its privileges) and can append rows, nothing else.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OPERATOR_ROLE, WRITER_ROLE } from '../../lambda/contract/roles';
import { migrate } from '../../lambda/db/migrate';
import { MIGRATIONS } from '../../lambda/db/migrations';
import { createClient, endPool } from '../../lambda/db/pool';
import { localContext } from '../../lambda/local/bundle';
import { createTestDatabase, type TestDatabase, testPool } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { type Pipeline, startPipeline } from '../helpers/pipeline';
import { loginBody, sqsEvent } from '../helpers/sqs';

const env = snapshotEnv();
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline();
});

afterAll(async () => {
  await pipeline?.stop();
  env.restore();
});

describe('the function in the database', () => {
  it('writes new and redelivered batches (COPY, then INSERT … ON CONFLICT) as login_queue_writer', async () => {
    // Arrange
    const { db, writer, handler } = pipeline;
    await pipeline.reset();
    // Only the handler's sessions from here (the migration function's idle one goes).
    await db.pool.query(
      "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = 'login-queue' AND datname = current_database()",
    );
    const first = sqsEvent([loginBody({ user_id: 'a' }), loginBody({ user_id: 'b' })]);
    const redelivered = { Records: [...first.Records, ...sqsEvent([loginBody()]).Records] };
    // Act
    const responses = [
      await handler(first, localContext()),
      await handler(redelivered, localContext()),
    ];
    // Assert: both write paths worked, under the function's own login.
    expect(responses).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
    expect(await db.count()).toBe(3);
    const { rows } = await db.pool.query(
      "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'login-queue' AND datname = current_database()",
    );
    expect(rows).toEqual([{ usename: writer.role }]);
  });

  it('holds INSERT on the written columns and SELECT on message_id, and no other privilege', async () => {
    const { db, writer } = pipeline;
    const attributes = await db.pool.query(
      `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin
         FROM pg_roles WHERE rolname IN ($1, $2) ORDER BY rolname = $1 DESC`,
      [WRITER_ROLE, writer.role],
    );
    expect(attributes.rows).toEqual(
      [WRITER_ROLE, writer.role].map((rolname) => ({
        rolname,
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolbypassrls: false,
        rolcanlogin: true,
      })),
    );
    const tables = await db.pool.query(
      'SELECT table_name, privilege_type FROM information_schema.table_privileges WHERE grantee = $1',
      [WRITER_ROLE],
    );
    expect(tables.rows).toEqual([]);
    const columns = await db.pool.query(
      `SELECT privilege_type, string_agg(column_name, ',' ORDER BY column_name) AS columns
         FROM information_schema.column_privileges WHERE grantee = $1 AND table_name = 'user_logins'
        GROUP BY 1 ORDER BY 1`,
      [WRITER_ROLE],
    );
    expect(columns.rows).toEqual([
      {
        privilege_type: 'INSERT',
        columns:
          'app_version,app_version_raw,create_date,device_type,key_id,locale,masked_device_id,masked_ip,message_id,pii_sealed,recovery_key_id,user_id',
      },
      { privilege_type: 'SELECT', columns: 'message_id' },
    ]);
    const other = await db.pool.query(
      "SELECT count(*)::int AS n FROM information_schema.column_privileges WHERE grantee = $1 AND table_name <> 'user_logins'",
      [WRITER_ROLE],
    );
    expect(other.rows[0].n).toBe(0);
  });

  it.each([
    ['read the sealed PII', 'SELECT pii_sealed FROM user_logins'],
    ['read the rows', 'SELECT user_id, masked_ip FROM user_logins'],
    ['read the analysts’ view', 'SELECT * FROM user_logins_analytics'],
    ['read the recovery audit', 'SELECT * FROM pii_recovery_audit'],
    [
      'write the recovery audit',
      "INSERT INTO pii_recovery_audit (operator, token, field, reason) VALUES ('x', 'x', 'ip', 'x')",
    ],
    ['read the migration log', 'SELECT * FROM login_queue_migrations'],
    [
      'write the erasure audit',
      "INSERT INTO erasure_audit (operator, user_token, reason, rows_deleted, dead_letters_matched, dead_letters_deleted) VALUES ('x', 'x', 'x', 0, 0, 0)",
    ],
    ['update a row', "UPDATE user_logins SET key_id = 'forged'"],
    ['delete rows', 'DELETE FROM user_logins'],
    ['truncate the table', 'TRUNCATE user_logins'],
    [
      'forge ingested_at',
      "INSERT INTO user_logins (message_id, ingested_at) VALUES ('forged', '2000-01-01')",
    ],
    ['create a table', 'CREATE TABLE stolen (a int)'],
    ['add a column', 'ALTER TABLE user_logins ADD COLUMN extra int'],
    ['drop the table', 'DROP TABLE user_logins'],
    ['become the recovery role', 'SET ROLE login_queue_recovery'],
    ['create a role', 'CREATE ROLE intruder'],
  ])('cannot %s', async (_, sql) => {
    // Arrange: a row to protect, and a session as the function's login.
    const { db, writer } = pipeline;
    await pipeline.reset();
    await pipeline.handler(sqsEvent([loginBody()]), localContext());
    const client = createClient(writer.url);
    await client.connect();
    try {
      // Act + Assert: insufficient_privilege (42501), not some other error.
      await expect(client.query(sql)).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
    expect(await db.count()).toBe(1);
  });
});

describe('migrations 3 and 4 on RDS', () => {
  let db: TestDatabase | undefined;
  let createdRdsIam = false;
  afterAll(async () => {
    if (createdRdsIam) await pipeline.db.pool.query('DROP ROLE IF EXISTS rds_iam');
    await db?.drop();
  });

  it('grants login_queue_writer and login_queue_operator the rds_iam role, which RDS needs for IAM authentication', async () => {
    // Arrange: RDS's rds_iam role, for the moment (roles are cluster-wide).
    const { rows } = await pipeline.db.pool.query(
      "SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'",
    );
    if (rows.length === 0) {
      await pipeline.db.pool.query('CREATE ROLE rds_iam NOLOGIN');
      createdRdsIam = true;
    }
    db = await createTestDatabase();
    // Act
    await migrate(db.pool);
    // Assert
    const member = await db.pool.query(
      "SELECT pg_has_role($1, 'rds_iam', 'MEMBER') AS writer, pg_has_role($2, 'rds_iam', 'MEMBER') AS operator",
      [WRITER_ROLE, OPERATOR_ROLE],
    );
    expect(member.rows[0]).toEqual({ writer: true, operator: true });
  });
});

describe('migration 3 by a user who may not create roles', () => {
  const owner = `${inject('testRolePrefix')}owner_${randomBytes(3).toString('hex')}`;
  let db: TestDatabase | undefined;
  let pool: pg.Pool | undefined;
  afterAll(async () => {
    if (pool) await endPool(pool);
    await db?.drop();
    await pipeline.db.pool.query(`DROP ROLE IF EXISTS ${owner}`);
  });

  it('still migrates, and grants the role a DBA (here: an earlier run) created', async () => {
    // Arrange: a database owned by a plain login, without CREATEROLE, in a cluster where
    // login_queue_writer already exists.
    await pipeline.db.pool.query(
      `CREATE ROLE ${owner} LOGIN NOSUPERUSER NOCREATEROLE PASSWORD 'owner'`,
    );
    db = await createTestDatabase();
    await db.pool.query(`ALTER DATABASE ${new URL(db.url).pathname.slice(1)} OWNER TO ${owner}`);
    const url = new URL(db.url);
    url.username = owner;
    url.password = 'owner';
    pool = testPool({ connectionString: url.toString(), max: 1 });
    // Act
    const result = await migrate(pool);
    // Assert
    expect(result.applied).toEqual(MIGRATIONS.map((m) => m.version));
    const { rows } = await db.pool.query(
      "SELECT has_column_privilege($1, 'user_logins', 'message_id', 'INSERT') AS insert, has_column_privilege($1, 'user_logins', 'pii_sealed', 'SELECT') AS sealed",
      [WRITER_ROLE],
    );
    expect(rows[0]).toEqual({ insert: true, sealed: false });
  });
});
