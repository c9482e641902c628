/**
 * `npm run maintain`: partitions ahead of time, default-partition rows moved to their own,
 * partitions older than the retention dropped whole (lambda/db/maintain.ts). Prints what it
 * did as JSON; in AWS a daily schedule runs the same code in the migration function.
 */

import { UsageError } from '../core/errors';
import { isGranularity, type MaintainResult, maintain } from '../db/maintain';
import { integerFlag, parseCommandLine, runCommand } from './command';
import { databaseUrlFlag } from './flags';
import { connectDatabase } from './shared';

const HELP = `Usage: npm run maintain -- [options]

Creates user_logins partitions ahead of time, moves dated rows out of the default partition,
and drops partitions whose whole range is older than the retention. Audited in
partition_audit. Safe to run at any time and as often as you like; dropping is not undone,
so run it with --dry-run first to see what a retention would drop.

  --retention-days N         drop partitions entirely older than N days, 1..36500
                             (default: keep everything)                    [RETENTION_DAYS]
  --ahead-days N             partitions exist through N days ahead, 1..3660 (default 90)
                                                                         [PARTITION_AHEAD_DAYS]
  --granularity month|day    size of new partitions (default month)      [PARTITION_GRANULARITY]
  --dry-run                  print what it would create, move and drop (each partition's
                             range and rows), and change nothing
  --database-url URL         [DATABASE_URL, or DB_HOST/DB_NAME/DB_USER/DB_PASSWORD_SECRET_ID]
  -h, --help                 this text
`;

const fmt = (n: number) => n.toLocaleString('en-US');

/** The dry run's report for a reader: what would go, with ranges and row counts. */
function preview(result: MaintainResult): string {
  const lines = result.dropped.map(
    (d) => `  would drop ${d.partition}  ${d.from} .. ${d.to}  ${fmt(d.rows)} rows`,
  );
  if (result.created.length > 0)
    lines.push(`  would create ${result.created.length} partitions: ${result.created.join(', ')}`);
  if (result.movedFromDefault > 0)
    lines.push(`  would move ${fmt(result.movedFromDefault)} rows out of user_logins_default`);
  const rows = result.dropped.reduce((sum, d) => sum + d.rows, 0);
  lines.push(
    `dry run: nothing was changed; the run would drop ${result.dropped.length} partitions (${fmt(rows)} rows)`,
  );
  return `${lines.join('\n')}\n`;
}

runCommand('maintain', async () => {
  const args = parseCommandLine(HELP, {
    options: {
      'retention-days': { type: 'string', default: process.env.RETENTION_DAYS || undefined },
      'ahead-days': { type: 'string', default: process.env.PARTITION_AHEAD_DAYS || undefined },
      granularity: { type: 'string', default: process.env.PARTITION_GRANULARITY || 'month' },
      'dry-run': { type: 'boolean', default: false },
      'database-url': { type: 'string', default: process.env.DATABASE_URL || undefined },
    },
  });
  if (args === undefined) return 0;
  const { values } = args;
  const databaseUrl = databaseUrlFlag(values['database-url']);
  const { granularity } = values;
  if (!isGranularity(granularity)) {
    throw new UsageError(`--granularity must be month or day, got "${granularity}"`);
  }
  const retention = values['retention-days'];
  const options = {
    retentionDays:
      retention === undefined
        ? undefined
        : integerFlag(retention, 'retention-days', { min: 1, max: 36_500, fallback: 0 }),
    aheadDays: integerFlag(values['ahead-days'], 'ahead-days', { min: 1, max: 3660, fallback: 90 }),
    granularity,
  };
  const dryRun = values['dry-run'];
  const pool = await connectDatabase(databaseUrl);
  try {
    const result = await maintain(pool, { ...options, dryRun });
    process.stdout.write(`${JSON.stringify({ ...options, ...result })}\n`);
    if (dryRun) process.stderr.write(preview(result));
    if (result.defaultRows > 0) {
      process.stderr.write(
        `warning: ${result.defaultRows} rows without a create_date sit in user_logins_default\n`,
      );
    }
    return 0;
  } finally {
    await pool.end();
  }
});
