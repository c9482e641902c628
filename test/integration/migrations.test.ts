/**
 * Migrations on an empty database and on the take-home's pre-created table with rows.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../lambda/db/migrate';
import { MIGRATIONS } from '../../lambda/db/migrations';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { takeHomeDdl } from '../helpers/fixtures';

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
      current: MIGRATIONS.length,
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
  });

  it('is idempotent: a second run applies nothing', async () => {
    await migrate(db.pool);
    expect(await migrate(db.pool)).toEqual({ applied: [], current: MIGRATIONS.length });
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
    expect(rows[0]).toEqual({ t: null, v: MIGRATIONS.length });
  });
});
