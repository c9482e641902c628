/**
 * `npm run bench -- --scale`: user_logins filled to 1 and 10 million rows (generate_series in
 * SQL, pre-masked tokens of the real shape), then the shipped handler's write rate at
 * 10,000-record batches against an empty table, and the analyst queries at each size. Runs in
 * databases of its own (created and dropped) on DATABASE_URL's server, else on an embedded one.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { buildBundles } from '../../lambda/cli/build';
import { integerFlag } from '../../lambda/cli/command';
import { bundlePath } from '../../lambda/contract/bundling';
import { UsageError } from '../../lambda/core/errors';
import { type Granularity, isGranularity, maintain, partitionFor } from '../../lambda/db/maintain';
import { migrate } from '../../lambda/db/migrate';
import { endPool, handleConnectionErrors, withClient } from '../../lambda/db/pool';
import { startLocalAws } from '../../lambda/local/aws';
import { startLocalPostgres } from '../../lambda/local/postgres';
import { buildChild, FUNCTION_MB, runChild } from './child';
import { copyRate } from './copy';
import { FILL_SQL, fillDescription } from './scale-fill';
import { planShape } from './scale-plan';
import { QUERIES, type Query, type Sample } from './scale-queries';
import { benchTeardown } from './teardown';

export const SCALE_OPTIONS = {
  scale: { type: 'boolean' },
  rows: { type: 'string' },
  days: { type: 'string' },
  batches: { type: 'string' },
  rounds: { type: 'string' },
  runs: { type: 'string' },
  database: { type: 'string' },
  indexes: { type: 'boolean' },
  granularity: { type: 'string' },
} as const;

export const SCALE_HELP = `
--scale                 instead of the above: fill user_logins to each size of --rows, and at each
                        measure the handler's write rate at 10,000-record batches (beside an empty
                        table, in alternating rounds) and the analyst queries (median, warm cache)
  --rows N,N,...        table sizes, ascending (default 1000000,10000000)
  --days N              retention the rows are spread over, ending today (default 400)
  --batches N           10,000-record batches per handler run (default 5)
  --rounds N            handler runs per size and table (default 5)
  --runs N              runs of each query after a warm-up one (default 5)
  --granularity G       month (default) or day: the partitions maintain makes
  --indexes             also: the handler and COPY rates into the empty table with each
                        secondary index dropped in turn, and with none
  --database NAME       fill and keep this database (created when missing; sizes it already
                        exceeds are skipped) instead of a throw-away one, to iterate on queries
`;

const BATCH = 10_000;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const spread = (values: readonly number[]) =>
  `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
const log = (line: string) => process.stderr.write(`bench --scale: ${line}\n`);

interface ScaleValues {
  readonly rows?: string | undefined;
  readonly days?: string | undefined;
  readonly batches?: string | undefined;
  readonly rounds?: string | undefined;
  readonly runs?: string | undefined;
  readonly database?: string | undefined;
  readonly indexes?: boolean | undefined;
  readonly granularity?: string | undefined;
}

function parseSizes(raw: string | undefined): number[] {
  const sizes = (raw ?? '1000000,10000000').split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isSafeInteger(n) || n < 1_000 || n > 100_000_000)) {
    throw new UsageError(`--rows takes integers from 1000 to 100000000, got "${raw}"`);
  }
  if (sizes.some((n, i) => i > 0 && n <= (sizes[i - 1] ?? 0))) {
    throw new UsageError(`--rows must be ascending, got "${raw}"`);
  }
  return sizes;
}

/** A database on the server of `adminUrl`, created (or reused) under `name`. */
export async function database(
  adminUrl: string,
  name: string,
  reuse: boolean,
  granularity: Granularity,
) {
  await withClient(adminUrl, async (admin) => {
    const { rowCount } = await admin.query('SELECT FROM pg_database WHERE datname = $1', [name]);
    if (!reuse || rowCount === 0)
      await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = handleConnectionErrors(new pg.Pool({ connectionString: url.toString(), max: 2 }));
  return {
    url: url.toString(),
    pool,
    granularity,
    /** Ends the pool; its connections are closed when it resolves. */
    close: () => endPool(pool),
    /** Closes the pool, then drops the database: no connection of ours is ended under it. */
    async drop() {
      await endPool(pool);
      await withClient(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`),
      );
    },
  };
}
type Database = Awaited<ReturnType<typeof database>>;

/** Migrated, with monthly partitions from `days` ago through 90 days ahead, by maintain. */
async function prepare(pool: pg.Pool, days: number, granularity: Granularity): Promise<void> {
  const started = performance.now();
  const { applied } = await migrate(pool);
  if (applied.length > 0) {
    log(
      `migrations ${applied.join(', ')} applied in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  if (granularity === 'day' && (await count(pool)) === 0) {
    // Migration 4 makes monthly partitions around today; a daily table has none of them.
    const { rows } = await pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'user_logins'::regclass AND c.relname <> 'user_logins_default'`,
    );
    for (const { name } of rows) await pool.query(`DROP TABLE ${name}`);
  }
  const start = new Date(Date.now() - days * 86_400_000);
  await maintain(pool, { today: start, aheadDays: days + 90, granularity });
}

const count = async (pool: pg.Pool) =>
  Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM user_logins')).rows[0]?.n);

/** Adds rows until the table holds `target`, spread over `days` ending today. */
async function fill(pool: pg.Pool, target: number, days: number, users: number): Promise<void> {
  const have = await count(pool);
  const chunk = 1_000_000;
  const started = performance.now();
  for (let from = have; from < target; from += chunk) {
    const to = Math.min(target, from + chunk);
    // Each chunk is spread over every day of the retention, oldest first, so that the table
    // has the same shape after every chunk.
    await pool.query(FILL_SQL, [from, to, days, users]);
    log(
      `filled ${fmt(to)} of ${fmt(target)} rows (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
  if (have < target) {
    const vacuum = performance.now();
    await pool.query('VACUUM ANALYZE user_logins');
    log(`VACUUM ANALYZE in ${((performance.now() - vacuum) / 1000).toFixed(0)} s`);
  }
}

interface Env {
  readonly base: Record<string, string>;
}

/** Median records/s of the handler's batches, over `rounds` child runs into `db`. */
/** Removes what the handler and COPY runs wrote, so that every round meets the same table. */
async function forgetWrites(db: Database): Promise<void> {
  await db.pool.query(
    `DELETE FROM user_logins WHERE create_date >= current_date - 1
        AND (message_id LIKE 'bench-%' OR message_id LIKE 'copy-%')`,
  );
  const day = (offset: number) =>
    new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
  for (const name of new Set(
    [0, 1].map((offset) => partitionFor(day(offset), db.granularity).name),
  )) {
    await db.pool.query(`VACUUM ${name}`);
  }
}

/** Records/s of each of the handler's `batches` batches of 10,000 into `db`. */
async function handlerRates(env: Env, db: Database, batches: number): Promise<number[]> {
  const result = await runChild(
    {
      bundle: bundlePath('handler'),
      size: BATCH,
      reps: batches,
      env: { ...env.base, DATABASE_URL: db.url },
    },
    FUNCTION_MB,
  );
  await forgetWrites(db);
  return result.batchMs.map((ms) => BATCH / (ms / 1000));
}

/** Records/s of `batches` COPYs of 10,000 masked rows into `db`. */
async function copyRates(db: Database, batches: number, secret: string): Promise<number> {
  const rate = await copyRate(db.pool, BATCH, secret, batches);
  await forgetWrites(db);
  return rate;
}

/**
 * Median wall time of `runs` runs after a warm-up one, and the plan's shape; with `without`,
 * that index is dropped first in a transaction that is rolled back (no rebuild).
 */
async function timeQuery(
  pool: pg.Pool,
  query: Query,
  params: unknown[],
  runs: number,
  without?: string,
) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const setting of query.settings ?? []) await client.query(setting);
    if (without) await client.query(`DROP INDEX ${without}`);
    const once = async () => {
      const started = performance.now();
      const { rowCount } = await client.query(query.sql, params);
      return { ms: performance.now() - started, rows: rowCount ?? 0 };
    };
    const warm = await once();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push((await once()).ms);
    const { rows } = await client.query<{ 'QUERY PLAN': unknown }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${query.sql}`,
      params,
    );
    return { ms: median(times), times, rows: warm.rows, plan: planShape(rows[0]?.['QUERY PLAN']) };
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

const SECONDARY = [
  'user_logins_masked_ip_idx',
  'user_logins_masked_device_id_idx',
  'user_logins_user_id_idx',
  'user_logins_create_date_tokens_idx',
];

/** Handler and COPY rates into the empty table with each secondary index dropped in turn. */
async function indexCosts(
  env: Env,
  empty: Database,
  rounds: number,
  batches: number,
  secret: string,
) {
  const { rows: defs } = await empty.pool.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
      WHERE tablename = 'user_logins' AND indexname = ANY($1)`,
    [SECONDARY],
  );
  const variants: { label: string; drop: string[] }[] = [
    { label: 'all indexes', drop: [] },
    ...SECONDARY.map((name) => ({ label: `without ${name}`, drop: [name] })),
    { label: 'without all four', drop: SECONDARY },
  ];
  const lines: string[][] = [];
  for (const variant of variants) {
    for (const name of variant.drop) await empty.pool.query(`DROP INDEX ${name}`);
    const handler: number[] = [];
    const copy: number[] = [];
    for (let round = 0; round < rounds; round++) {
      await empty.pool.query('TRUNCATE user_logins');
      handler.push(...(await handlerRates(env, empty, batches)));
      copy.push(await copyRates(empty, batches, secret));
    }
    // pg_indexes shows a partitioned index as ON ONLY (the parent alone): build it everywhere.
    for (const def of defs.filter((d) => variant.drop.includes(d.name))) {
      await empty.pool.query(def.def.replace(' ON ONLY ', ' ON '));
    }
    log(`index cost: ${variant.label}`);
    lines.push([
      variant.label,
      fmt(median(handler)),
      spread(handler),
      fmt(median(copy)),
      spread(copy),
    ]);
  }
  return lines;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
}

/** Runs the scale benchmark as `values` say; prints its tables on stdout. */
export async function runScale(values: ScaleValues): Promise<void> {
  const sizes = parseSizes(values.rows);
  const days = integerFlag(values.days, 'days', { min: 7, max: 3650, fallback: 400 });
  const batches = integerFlag(values.batches, 'batches', { min: 1, max: 100, fallback: 5 });
  const rounds = integerFlag(values.rounds, 'rounds', { min: 1, max: 20, fallback: 5 });
  const runs = integerFlag(values.runs, 'runs', { min: 1, max: 100, fallback: 5 });
  const granularity = values.granularity ?? 'month';
  if (!isGranularity(granularity)) {
    throw new UsageError(`--granularity is month or day, got "${granularity}"`);
  }
  const users = Math.max(1_000, Math.round((sizes[sizes.length - 1] ?? 0) / 10));

  log('building the bundles');
  await Promise.all([buildBundles(), buildChild()]);
  const teardown = benchTeardown('bench --scale');
  try {
    const local = process.env.DATABASE_URL
      ? undefined
      : teardown.add(await startLocalPostgres(), (server) => server.stop());
    const adminUrl = process.env.DATABASE_URL || (local?.url as string);
    const aws = teardown.add(await startLocalAws(), (services) => services.stop());
    const secret = JSON.stringify({ current: 'k1', k1: 'b'.repeat(44) });
    aws.secretsManager.put('bench-key', secret);
    const env: Env = {
      base: { ...aws.awsEnv, MASKING_SECRET_ID: 'bench-key', POWERTOOLS_METRICS_DISABLED: 'true' },
    };
    const suffix = randomUUID().replaceAll('-', '').slice(0, 8);
    const keep = values.database !== undefined;
    const full = teardown.add(
      await database(adminUrl, values.database ?? `login_queue_scale_${suffix}`, keep, granularity),
      (db) => (keep ? db.close() : db.drop()),
    );
    const empty = teardown.add(
      await database(adminUrl, `login_queue_scale_empty_${suffix}`, false, granularity),
      (db) => db.drop(),
    );
    const out: string[] = [];
    await prepare(full.pool, days, granularity);
    await prepare(empty.pool, days, granularity);
    const { rows: server } = await full.pool.query<{ v: string }>(
      "SELECT current_setting('server_version') AS v",
    );
    out.push(
      `PostgreSQL ${server[0]?.v} (${local ? 'embedded' : 'DATABASE_URL'}); node ${process.version}; ` +
        `handler: ${batches} batches of ${fmt(BATCH)} per run, ${rounds} runs per table alternating with the empty table`,
      fillDescription(days, users, granularity),
      '',
    );
    const writeRows: string[][] = [];
    const queryRows: string[][] = [];
    const plans: string[] = [];
    for (const size of sizes) {
      const have = await count(full.pool);
      if (have > size) {
        log(`the table already holds ${fmt(have)} rows: ${fmt(size)} skipped`);
        continue;
      }
      log(`filling to ${fmt(size)} rows`);
      await fill(full.pool, size, days, users);
      // The partition the handler writes into (today's) and its size.
      const today = partitionFor(new Date().toISOString().slice(0, 10), granularity);
      const { rows: current } = await full.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${today.name}`,
      );
      const emptyRates: number[] = [];
      const fullRates: number[] = [];
      const emptyCopy: number[] = [];
      const fullCopy: number[] = [];
      for (let round = 0; round < rounds; round++) {
        await empty.pool.query('TRUNCATE user_logins');
        emptyRates.push(...(await handlerRates(env, empty, batches)));
        fullRates.push(...(await handlerRates(env, full, batches)));
        emptyCopy.push(await copyRates(empty, batches, secret));
        fullCopy.push(await copyRates(full, batches, secret));
        log(`${fmt(size)} rows: handler round ${round + 1} of ${rounds}`);
      }
      writeRows.push([
        fmt(size),
        fmt(Number(current[0]?.n ?? 0)),
        fmt(median(emptyRates)),
        spread(emptyRates),
        fmt(median(fullRates)),
        spread(fullRates),
        (median(fullRates) / median(emptyRates)).toFixed(2),
        fmt(median(emptyCopy)),
        fmt(median(fullCopy)),
        (median(fullCopy) / median(emptyCopy)).toFixed(2),
      ]);
      const { rows: samples } = await full.pool.query<Record<Sample, string>>(
        `SELECT masked_ip AS ip, masked_device_id AS device, user_id AS user FROM user_logins
          WHERE create_date = current_date - 1 LIMIT 1`,
      );
      for (const query of QUERIES) {
        const params = query.param ? [samples[0]?.[query.param]] : [];
        const timed = await timeQuery(full.pool, query, params, runs);
        const bare = query.index
          ? await timeQuery(full.pool, query, params, Math.min(runs, 3), query.index)
          : undefined;
        queryRows.push([
          fmt(size),
          query.label,
          fmt(timed.rows),
          timed.ms.toFixed(1),
          timed.times.map((t) => t.toFixed(0)).join(', '),
          bare ? `${bare.ms.toFixed(1)} (${query.index?.replace('user_logins_', '')})` : '',
        ]);
        plans.push(
          `${query.label}, ${fmt(size)} rows (${timed.ms.toFixed(1)} ms)${query.settings ? `, ${query.settings.join('; ')}` : ''}:`,
          ...timed.plan.map((l) => `  ${l}`),
          '',
        );
        log(
          `${fmt(size)} rows: ${query.label} ${timed.ms.toFixed(1)} ms${bare ? `, ${bare.ms.toFixed(1)} ms without its index` : ''}`,
        );
      }
    }
    out.push(
      ...table(
        [
          'rows',
          'rows in the written partition',
          'handler, empty',
          'spread',
          'handler, filled',
          'spread',
          'filled/empty',
          'COPY, empty',
          'COPY, filled',
          'filled/empty',
        ],
        writeRows,
      ),
      '',
      ...table(
        ['rows', 'query', 'result rows', 'median ms', 'runs ms', 'without its index, ms'],
        queryRows,
      ),
      '',
      '```',
      ...plans,
      '```',
    );
    if (values.indexes) {
      out.push(
        '',
        ...table(
          ['into the empty table', 'handler rec/s', 'spread', 'COPY rec/s', 'spread'],
          await indexCosts(env, empty, rounds, batches, secret),
        ),
      );
    }
    console.log(out.join('\n'));
  } finally {
    await teardown.run();
  }
}
