/**
 * Migrations on an empty database and on the take-home's pre-created table with rows.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maintain } from '../../lambda/db/maintain';
import { migrate } from '../../lambda/db/migrate';
import { MIGRATIONS } from '../../lambda/db/migrations';
import { shared } from '../bench/scale-queries';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { takeHomeDdl } from '../helpers/fixtures';

/** The highest migration number (numbers may skip one). */
const LATEST = Math.max(...MIGRATIONS.map((m) => m.version));

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

const columns = async () =>
  (
    await db.pool.query<{ column_name: string; data_type: string }>(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'user_logins' ORDER BY ordinal_position",
    )
  ).rows.map((row) => `${row.column_name}:${row.data_type}`);

describe('migrate', () => {
  it('creates the table on an empty database, with the take-home columns first', async () => {
    const result = await migrate(db.pool);
    expect(result).toEqual({
      applied: MIGRATIONS.map((m) => m.version),
      current: LATEST,
    });
    expect(await columns()).toEqual([
      'user_id:character varying',
      'device_type:character varying',
      'masked_ip:character varying',
      'masked_device_id:character varying',
      'locale:character varying',
      'app_version:integer',
      'create_date:date',
      'message_id:character varying',
      'key_id:character varying',
      'app_version_raw:character varying',
      'ingested_at:timestamp with time zone',
      'recovery_key_id:character varying',
      'pii_sealed:bytea',
    ]);
  });

  it("adds what is missing to the take-home's pre-created table and keeps its rows", async ({
    skip,
  }) => {
    // Arrange: the table exactly as the take-home's Postgres image creates it, with rows.
    await db.pool.query(takeHomeDdl(skip));
    await db.pool.query(
      "INSERT INTO user_logins VALUES ('u1', 'ios', 'm-ip', 'm-dev', NULL, 230, '2024-01-01'), ('u2', 'android', 'm-ip', 'm-dev2', 'RU', 96, '2024-01-02')",
    );
    // Act
    await migrate(db.pool);
    // Assert
    const { rows } = await db.pool.query(
      'SELECT user_id, app_version, message_id FROM user_logins ORDER BY user_id',
    );
    expect(rows).toEqual([
      { user_id: 'u1', app_version: 230, message_id: null },
      { user_id: 'u2', app_version: 96, message_id: null },
    ]);
    expect(await columns()).toContain('message_id:character varying');
    const { rows: placed } = await db.pool.query(
      'SELECT DISTINCT tableoid::regclass::text AS p FROM user_logins',
    );
    expect(placed).toEqual([{ p: 'user_logins_p2024_01' }]);
  });

  it('partitions user_logins by month of create_date, with a default partition and the query indexes', async () => {
    await migrate(db.pool);
    const { rows } = await db.pool.query<{ kind: string; partitions: string[]; indexes: string[] }>(
      `SELECT c.relkind AS kind,
              ARRAY(SELECT p.relname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid
                     WHERE i.inhparent = c.oid ORDER BY 1) AS partitions,
              ARRAY(SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x
                     WHERE x.indrelid = c.oid ORDER BY 1) AS indexes
         FROM pg_class c WHERE c.oid = 'user_logins'::regclass`,
    );
    const [table] = rows;
    expect(table?.kind).toBe('p');
    const month = (offset: number) => {
      const d = new Date();
      d.setUTCDate(1);
      d.setUTCMonth(d.getUTCMonth() + offset);
      return `user_logins_p${d.toISOString().slice(0, 7).replace('-', '_')}`;
    };
    // The month before, this month and three ahead, plus the default partition.
    expect(table?.partitions).toEqual(
      expect.arrayContaining([
        month(-1),
        month(0),
        month(1),
        month(2),
        month(3),
        'user_logins_default',
      ]),
    );
    expect(table?.indexes.map((d) => d.replace(/^.* USING /, '')).sort()).toEqual([
      'btree (create_date) INCLUDE (masked_ip, masked_device_id, user_id)',
      'btree (masked_device_id, create_date)',
      'btree (masked_ip, create_date)',
      'btree (message_id, create_date)',
      'btree (user_id)',
    ]);
    expect(table?.indexes.filter((d) => d.startsWith('CREATE UNIQUE'))).toHaveLength(1);
  });

  it('converts an already-migrated table with rows: every row, privilege, comment and the analyst view kept', async () => {
    // Arrange: migrations 1-3 applied (the table before partitioning), rows across months.
    await migrate(
      db.pool,
      MIGRATIONS.filter((m) => m.version < 4),
    );
    await db.pool.query(
      `INSERT INTO user_logins (message_id, user_id, create_date, masked_ip)
         SELECT 'm' || i, 'u' || i, DATE '2025-01-15' + i * 20, 'k1:ip' || (i % 3) FROM generate_series(1, 30) i`,
    );
    await db.pool.query("INSERT INTO user_logins (user_id, create_date) VALUES ('undated', NULL)");
    const privileges = () =>
      db.pool.query(
        `SELECT grantee, privilege_type, column_name FROM information_schema.column_privileges
          WHERE table_name = 'user_logins' AND grantee LIKE 'login_queue%' ORDER BY 1, 2, 3`,
      );
    const before = (await privileges()).rows;
    const comment = "SELECT col_description('user_logins'::regclass, 6) AS c";
    const commentBefore = (await db.pool.query(comment)).rows;
    // Act: migration 4 alone (later ones add grants of their own).
    const result = await migrate(
      db.pool,
      MIGRATIONS.filter((m) => m.version <= 4),
    );
    // Assert
    expect(result.applied).toEqual([4]);
    expect(await db.count()).toBe(31);
    const { rows: placed } = await db.pool.query<{ p: string; n: number }>(
      "SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM user_logins WHERE user_id = 'undated' OR message_id = 'm1' GROUP BY 1 ORDER BY 1",
    );
    expect(placed).toEqual([
      { p: 'user_logins_default', n: 1 },
      { p: 'user_logins_p2025_02', n: 1 },
    ]);
    expect((await privileges()).rows).toEqual(before);
    expect(before.length).toBeGreaterThan(0);
    expect((await db.pool.query(comment)).rows).toEqual(commentBefore);
    const { rows: view } = await db.pool.query(
      'SELECT count(*)::int AS n FROM user_logins_analytics',
    );
    expect(view[0].n).toBe(31);
    const { rows: audit } = await db.pool.query(
      "SELECT row_count::int AS n FROM partition_audit WHERE action = 'convert'",
    );
    expect(audit).toEqual([{ n: 31 }]);
    expect(
      (await db.pool.query("SELECT to_regclass('user_logins_unpartitioned') AS t")).rows,
    ).toEqual([{ t: null }]);
  });

  it('adds the date-leading covering index to a populated partitioned table: every row kept, every partition indexed, later ones too', async () => {
    // Arrange: migrations before 7, rows over 40 days (this week's: ips shared by 1 to 4 users,
    // a NULL user id, a NULL ip), an undated row in the default partition.
    await migrate(
      db.pool,
      MIGRATIONS.filter((m) => m.version < 7),
    );
    await db.pool.query(
      `INSERT INTO user_logins (message_id, user_id, masked_ip, masked_device_id, create_date)
         SELECT 'm' || i, CASE WHEN i % 50 = 0 THEN NULL ELSE 'u' || (i % 7) END,
                CASE WHEN i % 61 = 0 THEN NULL ELSE 'k1:ip' || (i % 13) END,
                'k1:dev' || (i % 5), current_date - (i % 40)
           FROM generate_series(1, 600) i`,
    );
    await db.pool.query("INSERT INTO user_logins (message_id, user_id) VALUES ('undated', 'u1')");
    const readme = (column: string) =>
      `SELECT ${column}, count(DISTINCT user_id) AS users FROM user_logins
        WHERE create_date >= current_date - 7 GROUP BY 1 HAVING count(DISTINCT user_id) > 1 ORDER BY 1`;
    const before = (await db.pool.query(readme('masked_ip'))).rows;
    // Act
    const result = await migrate(db.pool);
    await maintain(db.pool, { aheadDays: 200 });
    // Assert: nothing lost, the same answers, the index on every partition (new ones included).
    expect(result.applied).toEqual(MIGRATIONS.filter((m) => m.version >= 7).map((m) => m.version));
    expect(await db.count()).toBe(601);
    expect((await db.pool.query(readme('masked_ip'))).rows).toEqual(before);
    expect(before.length).toBeGreaterThan(1);
    for (const column of ['masked_ip', 'masked_device_id']) {
      const { rows } = await db.pool.query(`${shared(column)} ORDER BY 1`);
      expect(rows, column).toEqual((await db.pool.query(readme(column))).rows);
    }
    const { rows: unindexed } = await db.pool.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'user_logins'::regclass
          AND NOT EXISTS (SELECT FROM pg_index x JOIN pg_class ix ON ix.oid = x.indexrelid
                           WHERE x.indrelid = c.oid
                             AND pg_get_indexdef(x.indexrelid) LIKE '%(create_date) INCLUDE (masked_ip, masked_device_id, user_id)')`,
    );
    expect(unindexed).toEqual([]);
    // The 7-day query can read it alone (index-only); forced, as a table this small is scanned.
    const client = await db.pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      await client.query('SET enable_bitmapscan = off');
      const { rows: plan } = await client.query(`EXPLAIN ${shared('masked_ip')}`);
      expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toMatch(
        /Index Only Scan using user_logins_p\w+_create_date_masked_ip_masked_device_id_idx/,
      );
    } finally {
      await client.query('RESET ALL');
      client.release();
    }
  });

  it('lands a row whose date has no partition in the default partition, and skips a duplicate there too', async () => {
    await migrate(db.pool);
    const insert = () =>
      db.pool.query(
        "INSERT INTO user_logins (message_id, user_id, create_date) VALUES ('far', 'u', '2099-01-01') ON CONFLICT DO NOTHING",
      );
    await insert();
    await insert();
    const { rows } = await db.pool.query(
      "SELECT tableoid::regclass::text AS p FROM user_logins WHERE message_id = 'far'",
    );
    expect(rows).toEqual([{ p: 'user_logins_default' }]);
  });

  it('is idempotent: a second run applies nothing', async () => {
    await migrate(db.pool);
    expect(await migrate(db.pool)).toEqual({ applied: [], current: LATEST });
  });

  it('applies each migration once when several runners race', async () => {
    const results = await Promise.all([migrate(db.pool), migrate(db.pool), migrate(db.pool)]);
    expect(results.flatMap((result) => result.applied)).toEqual(MIGRATIONS.map((m) => m.version));
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM login_queue_migrations');
    expect(rows[0].n).toBe(MIGRATIONS.length);
  });

  it('rolls back a failing migration and records nothing for it', async () => {
    const broken = [
      ...MIGRATIONS,
      { version: 99, name: 'broken', sql: 'CREATE TABLE t99 (a int); SELECT 1/0' },
    ];
    await expect(migrate(db.pool, broken)).rejects.toThrow('division by zero');
    const { rows } = await db.pool.query(
      "SELECT to_regclass('t99') AS t, (SELECT max(version) FROM login_queue_migrations) AS v",
    );
    expect(rows[0]).toEqual({ t: null, v: LATEST });
  });
});
