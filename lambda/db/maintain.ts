/**
 * Partition upkeep for user_logins (migration 4): partitions ahead of time, rows of the
 * default partition moved to their own, and retention by dropping whole partitions (never a
 * mass DELETE). One transaction under the migrations' advisory lock; each creation and drop
 * is recorded in partition_audit.
 */
import type { Pool, PoolClient } from 'pg';
import { ConfigError } from '../errors';
import { Granularity } from './granularity';
import { LOCK_KEY } from './migrate';

export { Granularity, isGranularity } from './granularity';

export interface MaintainOptions {
  /** Drop partitions whose whole range is older than this many days; undefined keeps all. */
  readonly retentionDays?: number | undefined;
  /** Partitions exist from today through this many days ahead. @default 90 */
  readonly aheadDays?: number;
  /** Size of new partitions (existing ones keep theirs). @default 'month' */
  readonly granularity?: Granularity;
  /** Today (UTC); for tests. */
  readonly today?: Date;
}

export interface DroppedPartition {
  readonly partition: string;
  readonly from: string;
  readonly to: string;
  readonly rows: number;
}

export interface MaintainResult {
  readonly created: readonly string[];
  readonly dropped: readonly DroppedPartition[];
  /** Rows moved out of the default partition into partitions created for them. */
  readonly movedFromDefault: number;
  /** Rows left in the default partition (no date): alarmed. */
  readonly defaultRows: number;
}

interface Range {
  readonly name: string;
  readonly from: string;
  readonly to: string;
}

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayOf = (date: string) => Date.parse(`${date}T00:00:00Z`);

/** The partition of `granularity` holding `date` (YYYY-MM-DD). */
export function partitionFor(date: string, granularity: Granularity): Range {
  const [y, m] = [Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1];
  if (granularity === Granularity.Day) {
    const from = dayOf(date);
    return {
      name: `user_logins_p${date.replaceAll('-', '_')}`,
      from: date,
      to: iso(from + DAY_MS),
    };
  }
  return {
    name: `user_logins_p${date.slice(0, 7).replace('-', '_')}`,
    from: iso(Date.UTC(y, m, 1)),
    to: iso(Date.UTC(y, m + 1, 1)),
  };
}

const BOUND = /FROM \('(\d{4}-\d{2}-\d{2})'\) TO \('(\d{4}-\d{2}-\d{2})'\)/;

async function partitions(client: PoolClient): Promise<{ ranges: Range[]; hasDefault: boolean }> {
  const { rows: kind } = await client.query<{ kind: string | null }>(
    "SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass('user_logins'))::text AS kind",
  );
  if (kind[0]?.kind !== 'p') {
    throw new ConfigError('user_logins is not partitioned: run the migrations first (migration 4)');
  }
  const { rows } = await client.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'user_logins'::regclass`,
  );
  const ranges: Range[] = [];
  for (const { name, bound } of rows) {
    const match = BOUND.exec(bound);
    if (match?.[1] && match[2]) ranges.push({ name, from: match[1], to: match[2] });
  }
  return { ranges, hasDefault: rows.some((row) => row.bound === 'DEFAULT') };
}

const covered = (ranges: readonly Range[], date: string) =>
  ranges.some((range) => range.from <= date && date < range.to);

/** Creates and drops partitions as `options` say; see the module comment. */
export async function maintain(pool: Pool, options: MaintainOptions = {}): Promise<MaintainResult> {
  const granularity = options.granularity ?? Granularity.Month;
  const today = iso(Math.floor((options.today ?? new Date()).getTime() / DAY_MS) * DAY_MS);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOCK_KEY]);
    const { ranges, hasDefault } = await partitions(client);
    const audit = (action: string, range: Range, rows: number | null) =>
      client.query(
        'INSERT INTO partition_audit (action, partition, range_from, range_to, row_count) VALUES ($1, $2, $3, $4, $5)',
        [action, range.name, range.from, range.to, rows],
      );
    const created: string[] = [];
    let movedFromDefault = 0;

    // Dated rows in the default partition: each gets the partition it lacked.
    const { rows: stray } = hasDefault
      ? await client.query<{ d: string }>(
          'SELECT DISTINCT create_date::text AS d FROM user_logins_default WHERE create_date IS NOT NULL ORDER BY 1',
        )
      : { rows: [] };
    for (const { d } of stray) {
      if (covered(ranges, d)) continue;
      const range = gap(d, granularity, ranges);
      await client.query(`CREATE TABLE ${quote(range.name)} (LIKE user_logins INCLUDING DEFAULTS)`);
      const moved = await client.query(
        `WITH moved AS (DELETE FROM user_logins_default WHERE create_date >= $1 AND create_date < $2 RETURNING *)
         INSERT INTO ${quote(range.name)} SELECT * FROM moved`,
        [range.from, range.to],
      );
      await client.query(
        `ALTER TABLE user_logins ATTACH PARTITION ${quote(range.name)} FOR VALUES FROM ('${range.from}') TO ('${range.to}')`,
      );
      movedFromDefault += moved.rowCount ?? 0;
      ranges.push(range);
      created.push(range.name);
      await audit('create', range, moved.rowCount ?? 0);
    }

    // Partitions from today through the horizon.
    const horizon = iso(dayOf(today) + (options.aheadDays ?? 90) * DAY_MS);
    for (let day = today; day <= horizon; day = iso(dayOf(day) + DAY_MS)) {
      if (covered(ranges, day)) continue;
      const range = gap(day, granularity, ranges);
      await client.query(
        `CREATE TABLE ${quote(range.name)} PARTITION OF user_logins FOR VALUES FROM ('${range.from}') TO ('${range.to}')`,
      );
      ranges.push(range);
      created.push(range.name);
      await audit('create', range, 0);
    }

    // Retention: whole partitions only, each entirely older than the cutoff.
    const dropped: DroppedPartition[] = [];
    if (options.retentionDays !== undefined) {
      const cutoff = iso(dayOf(today) - options.retentionDays * DAY_MS);
      for (const range of ranges.filter((r) => r.to <= cutoff).sort(byFrom)) {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${quote(range.name)}`,
        );
        const count = rows[0]?.n ?? 0;
        await client.query(`DROP TABLE ${quote(range.name)}`);
        await audit(`drop: retention ${options.retentionDays} days`, range, count);
        dropped.push({ partition: range.name, from: range.from, to: range.to, rows: count });
      }
    }

    const { rows: rest } = hasDefault
      ? await client.query<{ n: number }>('SELECT count(*)::int AS n FROM user_logins_default')
      : { rows: [{ n: 0 }] };
    await client.query('COMMIT');
    return { created, dropped, movedFromDefault, defaultRows: rest[0]?.n ?? 0 };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

const byFrom = (a: Range, b: Range) => (a.from < b.from ? -1 : 1);

/**
 * The partition of `granularity` holding `date`, shortened so it overlaps no existing one
 * (granularity changed over time); a shortened one is named by its first day.
 */
function gap(date: string, granularity: Granularity, ranges: readonly Range[]): Range {
  const whole = partitionFor(date, granularity);
  let { from, to } = whole;
  for (const other of ranges) {
    if (other.from >= to || other.to <= from) continue;
    if (other.to <= date) from = other.to;
    else to = other.from;
  }
  if (from === whole.from && to === whole.to) return whole;
  return { name: `user_logins_p${from.replaceAll('-', '_')}`, from, to };
}

/** Partition names are built here from dates: quoting is belt and braces. */
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
