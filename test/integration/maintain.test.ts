/**
 * Partition upkeep and retention on real PostgreSQL: partitions ahead, default rows moved,
 * whole old partitions dropped and audited, nothing else touched.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { maintain } from '../../lambda/db/maintain';
import { migrate } from '../../lambda/db/migrate';
import { MIGRATIONS } from '../../lambda/db/migrations';
import { loadBundleModule } from '../../lambda/local/bundle';
import { cleanEnv, runScript } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

const TODAY = new Date(Date.UTC(2026, 10, 23));

const partitionNames = async () =>
  (
    await db.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'user_logins'::regclass ORDER BY 1`,
    )
  ).rows.map((row) => row.name);

const insert = (rows: readonly [string, string | null][]) =>
  db.pool.query(
    `INSERT INTO user_logins (message_id, user_id, create_date)
       SELECT * FROM unnest($1::text[], $1::text[], $2::date[])`,
    [rows.map(([id]) => id), rows.map(([, date]) => date)],
  );

/** A database whose partitions are those of a conversion done on TODAY's month, and no others. */
async function migratedOn(months: readonly string[]) {
  await migrate(db.pool);
  for (const name of await partitionNames()) {
    if (name !== 'user_logins_default') await db.pool.query(`DROP TABLE ${name}`);
  }
  for (const month of months) {
    const [y, m] = month.split('-').map(Number) as [number, number];
    const to = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
    await db.pool.query(
      `CREATE TABLE user_logins_p${month.replace('-', '_')} PARTITION OF user_logins FOR VALUES FROM ('${month}-01') TO ('${to}')`,
    );
  }
}

/** What maintenance can change: the partitions, the rows in each, and the audit. */
async function databaseState() {
  const { rows } = await db.pool.query(
    `SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM user_logins GROUP BY 1 ORDER BY 1`,
  );
  const { rows: audit } = await db.pool.query('SELECT count(*)::int AS n FROM partition_audit');
  return { partitions: await partitionNames(), rows, audit: audit[0]?.n };
}

describe('maintain', () => {
  it('creates the partitions through the horizon, audits each, and is idempotent', async () => {
    await migratedOn(['2026-11']);
    const first = await maintain(db.pool, { today: TODAY, aheadDays: 60 });
    expect(first.created).toEqual(['user_logins_p2026_12', 'user_logins_p2027_01']);
    const again = await maintain(db.pool, { today: TODAY, aheadDays: 60 });
    expect(again).toEqual({ created: [], dropped: [], movedFromDefault: 0, defaultRows: 0 });
    const { rows } = await db.pool.query(
      "SELECT partition, range_from::text AS f, range_to::text AS t FROM partition_audit WHERE action = 'create' AND at >= now() - interval '1 minute' ORDER BY id DESC LIMIT 2",
    );
    expect(rows).toEqual([
      { partition: 'user_logins_p2027_01', f: '2027-01-01', t: '2027-02-01' },
      { partition: 'user_logins_p2026_12', f: '2026-12-01', t: '2027-01-01' },
    ]);
  });

  it('moves dated rows out of the default partition into partitions made for them; undated rows stay and are counted', async () => {
    // Arrange: rows arrived for months without a partition, and one without a date.
    await migratedOn(['2026-11']);
    await insert([
      ['far', '2030-05-17'],
      ['old', '2025-02-03'],
      ['undated', null],
      ['now', '2026-11-20'],
    ]);
    // Act
    const result = await maintain(db.pool, { today: TODAY, aheadDays: 1 });
    // Assert
    expect(result).toMatchObject({ movedFromDefault: 2, defaultRows: 1 });
    expect(result.created).toEqual(['user_logins_p2025_02', 'user_logins_p2030_05']);
    const { rows } = await db.pool.query(
      'SELECT message_id, tableoid::regclass::text AS p FROM user_logins ORDER BY 1',
    );
    expect(rows).toEqual([
      { message_id: 'far', p: 'user_logins_p2030_05' },
      { message_id: 'now', p: 'user_logins_p2026_11' },
      { message_id: 'old', p: 'user_logins_p2025_02' },
      { message_id: 'undated', p: 'user_logins_default' },
    ]);
    // The moved rows are still one per message: the unique index covers the new partition.
    await expect(insert([['far', '2030-05-17']])).rejects.toMatchObject({ code: '23505' });
  });

  it('drops only partitions wholly older than the retention, counts and audits their rows, and deletes nothing else', async () => {
    // Arrange: 2026-08 ends on 2026-09-01; with 83 days' retention from 2026-11-23 the cutoff
    // is 2026-09-01, so August goes and September (partly inside) stays.
    await migratedOn(['2026-07', '2026-08', '2026-09', '2026-10', '2026-11']);
    await insert([
      ['jul', '2026-07-31'],
      ['aug1', '2026-08-01'],
      ['aug2', '2026-08-31'],
      ['sep', '2026-09-01'],
      ['undated', null],
    ]);
    // Act
    const result = await maintain(db.pool, { today: TODAY, aheadDays: 1, retentionDays: 83 });
    // Assert
    expect(result.dropped).toEqual([
      { partition: 'user_logins_p2026_07', from: '2026-07-01', to: '2026-08-01', rows: 1 },
      { partition: 'user_logins_p2026_08', from: '2026-08-01', to: '2026-09-01', rows: 2 },
    ]);
    const { rows } = await db.pool.query('SELECT message_id FROM user_logins ORDER BY 1');
    expect(rows.map((row) => row.message_id)).toEqual(['sep', 'undated']);
    expect(await partitionNames()).not.toContain('user_logins_p2026_08');
    const { rows: audit } = await db.pool.query(
      "SELECT partition, row_count::int AS n FROM partition_audit WHERE action LIKE 'drop%' ORDER BY id",
    );
    expect(audit).toEqual([
      { partition: 'user_logins_p2026_07', n: 1 },
      { partition: 'user_logins_p2026_08', n: 2 },
    ]);
  });

  it('previews exactly what it then does, a partition made for old default rows and dropped at once included', async () => {
    // Arrange: rows of 2025-02 sit in the default partition, older than the retention.
    await migratedOn(['2026-07', '2026-11']);
    await insert([
      ['jul', '2026-07-31'],
      ['old', '2025-02-03'],
      ['far', '2030-05-17'],
    ]);
    const options = { today: TODAY, aheadDays: 40, retentionDays: 83 };
    const before = await databaseState();
    // Act
    const preview = await maintain(db.pool, { ...options, dryRun: true });
    const unchanged = await databaseState();
    const result = await maintain(db.pool, options);
    // Assert
    expect(unchanged).toEqual(before);
    expect(preview).toEqual({ ...result, dryRun: true });
    expect(result.dropped).toEqual([
      { partition: 'user_logins_p2025_02', from: '2025-02-01', to: '2025-03-01', rows: 1 },
      { partition: 'user_logins_p2026_07', from: '2026-07-01', to: '2026-08-01', rows: 1 },
    ]);
  });

  it('makes day partitions when told, fitting them around existing month partitions', async () => {
    await migratedOn(['2026-11']);
    const result = await maintain(db.pool, { today: TODAY, aheadDays: 9, granularity: 'day' });
    expect(result.created).toEqual(['user_logins_p2026_12_01', 'user_logins_p2026_12_02']);
  });

  it('refuses a table that is not partitioned, naming the fix, and changes nothing', async () => {
    await migrate(
      db.pool,
      MIGRATIONS.filter((m) => m.version < 4),
    );
    await expect(maintain(db.pool, { today: TODAY })).rejects.toThrow(/run the migrations first/);
    expect(await db.pool.query("SELECT to_regclass('partition_audit') AS t")).toMatchObject({
      rows: [{ t: null }],
    });
  });

  it('rolls everything back when one step fails', async () => {
    await migratedOn(['2026-11']);
    await insert([['far', '2030-05-17']]);
    // A table squatting on the name the move needs makes the creation fail.
    await db.pool.query('CREATE TABLE user_logins_p2030_05 (x int)');
    await expect(maintain(db.pool, { today: TODAY, aheadDays: 60 })).rejects.toMatchObject({
      code: '42P07',
    });
    expect(await partitionNames()).toEqual(['user_logins_default', 'user_logins_p2026_11']);
    expect(await db.count()).toBe(1);
  });

  it('runs in the shipped migration bundle: migrates, drops by RETENTION_DAYS, and publishes MaintenanceSucceeded', async () => {
    // Arrange: an old partition with a row, as a year of running leaves it.
    const env = snapshotEnv();
    await migrate(db.pool);
    await db.pool.query(
      "CREATE TABLE user_logins_p2020_01 PARTITION OF user_logins FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')",
    );
    await insert([['ancient', '2020-01-15']]);
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const fn = loadBundleModule<() => Promise<{ maintained: { dropped: unknown[] } }>>(
      {
        DATABASE_URL: db.url,
        DB_SSL: 'disable',
        RETENTION_DAYS: '400',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
      'migrate',
    );
    try {
      // Act
      const result = await fn.handler();
      // Assert
      expect(result.maintained.dropped).toEqual([
        { partition: 'user_logins_p2020_01', from: '2020-01-01', to: '2020-02-01', rows: 1 },
      ]);
      const emf = stdout.mock.calls
        .map(([chunk]) => String(chunk))
        .filter((line) => line.includes('_aws'))
        .map((line) => JSON.parse(line));
      expect(emf).toEqual([
        expect.objectContaining({ MaintenanceSucceeded: 1, PartitionsDropped: 1, RowsExpired: 1 }),
      ]);
    } finally {
      stdout.mockRestore();
      await fn.close();
      env.restore();
    }
    expect(await db.count()).toBe(0);
  });

  it('runs the README command: npm run maintain with a database URL and a retention prints its JSON report', async () => {
    await migratedOn(['2020-01', '2026-11']);
    await insert([['ancient', '2020-01-15']]);
    const result = await runScript(
      'maintain',
      ['--database-url', db.url, '--retention-days', '400'],
      cleanEnv(),
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      retentionDays: 400,
      aheadDays: 90,
      granularity: 'month',
      dropped: [{ partition: 'user_logins_p2020_01', rows: 1 }],
      defaultRows: 0,
    });
    const usage = await runScript('maintain', ['--retention-days', '0', '--database-url', db.url]);
    expect(usage).toMatchObject({ code: 2 });
    expect(usage.stderr).toContain('--retention-days must be an integer from 1 to 36500, got "0"');
  });

  it('with --dry-run prints what it would drop, create and move, and changes nothing; the run then does exactly that', async () => {
    // Arrange: an old partition with rows, a dated row without a partition, an undated one.
    await migratedOn(['2024-03', '2026-11']);
    await insert([
      ['old1', '2024-03-02'],
      ['old2', '2024-03-30'],
      ['stray', '2030-05-17'],
      ['undated', null],
    ]);
    const before = await databaseState();
    // Act
    const dry = await runScript(
      'maintain',
      ['--database-url', db.url, '--retention-days', '400', '--dry-run'],
      cleanEnv(),
    );
    // Assert: the preview names the partition, its range and its rows; nothing changed.
    expect(dry.code, dry.stderr).toBe(0);
    const preview = JSON.parse(dry.stdout);
    expect(preview).toMatchObject({
      dryRun: true,
      dropped: [
        { partition: 'user_logins_p2024_03', from: '2024-03-01', to: '2024-04-01', rows: 2 },
      ],
      movedFromDefault: 1,
      defaultRows: 1,
    });
    expect(preview.created).toContain('user_logins_p2030_05');
    expect(dry.stderr).toContain(
      'would drop user_logins_p2024_03  2024-03-01 .. 2024-04-01  2 rows',
    );
    expect(dry.stderr).toContain('dry run: nothing was changed');
    expect(await databaseState()).toEqual(before);

    // The run itself does what the preview said.
    const real = await runScript(
      'maintain',
      ['--database-url', db.url, '--retention-days', '400'],
      cleanEnv(),
    );
    expect(real.code, real.stderr).toBe(0);
    const { dryRun: _, ...expected } = preview;
    expect(JSON.parse(real.stdout)).toEqual(expected);
    expect(await partitionNames()).not.toContain('user_logins_p2024_03');
  });

  it('without any database is a usage error (exit 2) naming how to give one', async () => {
    const result = await runScript('maintain', ['--dry-run'], cleanEnv());
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      /^maintain: a database is needed: --database-url \(or DATABASE_URL/,
    );
  });

  it('takes its settings from the environment the Configuration table names', async () => {
    await migratedOn(['2026-11']);
    const result = await runScript(
      'maintain',
      ['--database-url', db.url],
      cleanEnv({
        RETENTION_DAYS: '400',
        PARTITION_AHEAD_DAYS: '200',
        PARTITION_GRANULARITY: 'day',
      }),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      retentionDays: 400,
      aheadDays: 200,
      granularity: 'day',
    });
  });
});
