/**
 * Partition upkeep for user_logins (migration 4): partitions ahead of time, rows of the
 * default partition moved to their own, and retention by dropping whole partitions (never a
 * mass DELETE). One transaction under the migrations' advisory lock; each creation and drop
 * is recorded in partition_audit. A dry run reads the same plan in a READ ONLY transaction.
 */
import type { Pool, PoolClient } from 'pg';
import { ConfigError } from '../core/errors';
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
  /** Only say what would be done: a READ ONLY transaction, nothing created, moved or dropped. */
  readonly dryRun?: boolean;
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
  /** Set on a dry run: the lists and counts are what a run now would do; nothing was changed. */
  readonly dryRun?: true;
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

/** A partition maintain would create, and the default partition's rows it would move there. */
interface Creation extends Range {
  readonly moveRows: number;
}

interface Plan {
  readonly creations: readonly Creation[];
  readonly drops: readonly DroppedPartition[];
  /** Rows of the default partition without a date (those no partition can take). */
  readonly defaultRows: number;
  readonly hasDefault: boolean;
}

/**
 * What maintenance would do now, read only: partitions for the default partition's dated rows
 * (with their counts), partitions through the horizon, partitions past the retention (with
 * their row counts), in the order they would be made and dropped.
 */
async function planOf(client: PoolClient, options: MaintainOptions, today: string): Promise<Plan> {
  const granularity = options.granularity ?? Granularity.Month;
  const { ranges, hasDefault } = await partitions(client);
  const creations: Creation[] = [];
  const add = (range: Range, moveRows: number) => {
    ranges.push(range);
    creations.push({ ...range, moveRows });
  };

  // Dated rows in the default partition: each gets the partition it lacked.
  const { rows: stray } = hasDefault
    ? await client.query<{ d: string }>(
        'SELECT DISTINCT create_date::text AS d FROM user_logins_default WHERE create_date IS NOT NULL ORDER BY 1',
      )
    : { rows: [] };
  for (const { d } of stray) {
    if (covered(ranges, d)) continue;
    const range = gap(d, granularity, ranges);
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM user_logins_default WHERE create_date >= $1 AND create_date < $2',
      [range.from, range.to],
    );
    add(range, rows[0]?.n ?? 0);
  }

  // Partitions from today through the horizon.
  const horizon = iso(dayOf(today) + (options.aheadDays ?? 90) * DAY_MS);
  for (let day = today; day <= horizon; day = iso(dayOf(day) + DAY_MS)) {
    if (!covered(ranges, day)) add(gap(day, granularity, ranges), 0);
  }

  // Retention: whole partitions only, each entirely older than the cutoff.
  const drops: DroppedPartition[] = [];
  if (options.retentionDays !== undefined) {
    const cutoff = iso(dayOf(today) - options.retentionDays * DAY_MS);
    for (const range of ranges.filter((r) => r.to <= cutoff).sort(byFrom)) {
      // A partition this run would make (for old rows of the default one) exists only here.
      const planned = creations.find((c) => c.name === range.name);
      const { rows } = planned
        ? { rows: [{ n: planned.moveRows }] }
        : await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quote(range.name)}`);
      drops.push({ partition: range.name, from: range.from, to: range.to, rows: rows[0]?.n ?? 0 });
    }
  }

  const { rows: rest } = hasDefault
    ? await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM user_logins_default WHERE create_date IS NULL',
      )
    : { rows: [{ n: 0 }] };
  return { creations, drops, defaultRows: rest[0]?.n ?? 0, hasDefault };
}

/**
 * Creates and drops partitions as `options` say; see the module comment. With `dryRun`, reads
 * in a READ ONLY transaction and returns what it would do, changing nothing.
 */
export async function maintain(pool: Pool, options: MaintainOptions = {}): Promise<MaintainResult> {
  const today = iso(Math.floor((options.today ?? new Date()).getTime() / DAY_MS) * DAY_MS);
  const client = await pool.connect();
  try {
    await client.query(options.dryRun ? 'BEGIN READ ONLY' : 'BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOCK_KEY]);
    const plan = await planOf(client, options, today);
    const result = {
      created: plan.creations.map((c) => c.name),
      dropped: plan.drops,
      movedFromDefault: plan.creations.reduce((sum, c) => sum + c.moveRows, 0),
      defaultRows: plan.defaultRows,
    };
    if (options.dryRun) {
      await client.query('ROLLBACK');
      return { ...result, dryRun: true };
    }
    const audit = (action: string, range: Range, rows: number | null) =>
      client.query(
        'INSERT INTO partition_audit (action, partition, range_from, range_to, row_count) VALUES ($1, $2, $3, $4, $5)',
        [action, range.name, range.from, range.to, rows],
      );
    let movedFromDefault = 0;
    for (const range of plan.creations) {
      const bounds = `FOR VALUES FROM ('${range.from}') TO ('${range.to}')`;
      if (range.moveRows === 0) {
        await client.query(`CREATE TABLE ${quote(range.name)} PARTITION OF user_logins ${bounds}`);
        await audit('create', range, 0);
        continue;
      }
      await client.query(`CREATE TABLE ${quote(range.name)} (LIKE user_logins INCLUDING DEFAULTS)`);
      const moved = await client.query(
        `WITH moved AS (DELETE FROM user_logins_default WHERE create_date >= $1 AND create_date < $2 RETURNING *)
         INSERT INTO ${quote(range.name)} SELECT * FROM moved`,
        [range.from, range.to],
      );
      await client.query(`ALTER TABLE user_logins ATTACH PARTITION ${quote(range.name)} ${bounds}`);
      movedFromDefault += moved.rowCount ?? 0;
      await audit('create', range, moved.rowCount ?? 0);
    }
    const dropped: DroppedPartition[] = [];
    for (const drop of plan.drops) {
      // Counted again under the drop's lock: the audit holds what went.
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${quote(drop.partition)}`,
      );
      const count = rows[0]?.n ?? 0;
      await client.query(`DROP TABLE ${quote(drop.partition)}`);
      const range = { name: drop.partition, from: drop.from, to: drop.to };
      await audit(`drop: retention ${options.retentionDays} days`, range, count);
      dropped.push({ ...drop, rows: count });
    }
    const { rows: rest } = plan.hasDefault
      ? await client.query<{ n: number }>('SELECT count(*)::int AS n FROM user_logins_default')
      : { rows: [{ n: 0 }] };
    await client.query('COMMIT');
    return { ...result, dropped, movedFromDefault, defaultRows: rest[0]?.n ?? 0 };
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
