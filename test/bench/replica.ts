/**
 * `npm run bench:replica`: does an analyst's 7-day duplicate query slow the pipeline's writes,
 * on the primary and on a streaming replica? A PostgreSQL 15 primary and hot standby
 * (test/helpers/replica.ts), the primary filled with a week of rows (scale-fill.ts), then the
 * same number of messages drained through the shipped handler (runLocal) three times, back to
 * back: no analyst; a loop of the recommended duplicate queries on the primary; the same loop
 * on the replica. With taskset, the replica runs on one core, the primary and the pipeline on
 * the other, as two instances would.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { integerFlag } from '../../lambda/cli/command';
import { ANALYST_ROLE } from '../../lambda/contract/roles';
import { maintain } from '../../lambda/db/maintain';
import { migrate } from '../../lambda/db/migrate';
import { endPool, handleConnectionErrors, sqlState, withClient } from '../../lambda/db/pool';
import { runLocal } from '../../lambda/local/run';
import {
  type ReplicatedPostgres,
  replicaUnavailable,
  startReplicatedPostgres,
} from '../helpers/replica';
import { FILL_SQL, fillDescription } from './scale-fill';
import { shared } from './scale-queries';
import { benchTeardown } from './teardown';

const HELP = `Usage: npm run bench:replica [-- options]
  --rows N       rows in the last 7 days before the drains (default 1500000)
  --messages N   messages per drain (default 20000)
  --rounds N     times the three drains run, one after another (default 1)
`;
const DAYS = 7;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const log = (line: string) => process.stderr.write(`bench:replica: ${line}\n`);
const QUERIES = [shared('masked_ip'), shared('masked_device_id')];

interface Loop {
  /** Stops after the query under way; resolves to each completed query's ms, and cancellations. */
  stop(): Promise<{ ms: number[]; cancelled: number }>;
}

/** The duplicate queries, alternately, one after another as the analyst, on `url`. */
function queryLoop(url: string): Loop {
  let stopping = false;
  const ms: number[] = [];
  let cancelled = 0;
  const done = withClient(url, async (client) => {
    await client.query(`SET ROLE ${ANALYST_ROLE}`);
    for (let i = 0; !stopping; i++) {
      const started = performance.now();
      try {
        await client.query(QUERIES[i % QUERIES.length] ?? '');
        ms.push(performance.now() - started);
      } catch (error) {
        // 40001: a standby cancels a query that conflicts with the WAL it must replay.
        if (sqlState(error) !== '40001') throw error;
        cancelled++;
      }
    }
  });
  return {
    async stop() {
      stopping = true;
      await done;
      return { ms, cancelled };
    },
  };
}

/** The replica's largest replay lag (pg_stat_replication) seen each second until stopped, s. */
function lagSampler(primaryUrl: string) {
  let max = 0;
  const pool = handleConnectionErrors(new pg.Pool({ connectionString: primaryUrl, max: 1 }));
  const timer = setInterval(() => {
    pool
      .query<{ lag: number | null }>(
        'SELECT max(extract(epoch FROM replay_lag))::float8 AS lag FROM pg_stat_replication',
      )
      .then(
        ({ rows }) => {
          max = Math.max(max, rows[0]?.lag ?? 0);
        },
        () => {},
      );
  }, 1000);
  return async () => {
    clearInterval(timer);
    await endPool(pool);
    return max;
  };
}

/** Per core: busy and total jiffies so far (/proc/stat), or none where it cannot be read. */
function cpuTimes(): { busy: number; total: number }[] {
  const stat = existsSync('/proc/stat') ? readFileSync('/proc/stat', 'utf8') : '';
  return [...stat.matchAll(/^cpu\d+ (.*)$/gm)].map((match) => {
    const fields = (match[1] ?? '').trim().split(/\s+/).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    // idle and iowait are the 4th and 5th fields.
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  });
}

/** Each core's busy share between two cpuTimes() readings, whoever kept it busy, %. */
const busyShares = (before: ReturnType<typeof cpuTimes>, after: ReturnType<typeof cpuTimes>) =>
  after.map((end, i) => {
    const start = before[i] ?? { busy: 0, total: 0 };
    return fmt((100 * (end.busy - start.busy)) / Math.max(1, end.total - start.total));
  });

/**
 * Drains `messages` generated messages from a fresh queue into the primary through the shipped
 * handler, with the query loop on `loopUrl` meanwhile; the table's cells after its label.
 */
async function drain(
  servers: ReplicatedPostgres,
  loopUrl: string | undefined,
  messages: number,
  seed: number,
): Promise<string[]> {
  await servers.waitForReplay(600_000);
  const loop = loopUrl === undefined ? undefined : queryLoop(loopUrl);
  const lag = lagSampler(servers.primaryUrl);
  const cpuBefore = cpuTimes();
  const { summary, services } = await runLocal({
    messages,
    seed,
    batchSize: 100,
    concurrency: 2,
    databaseUrl: servers.primaryUrl,
  });
  const busy = busyShares(cpuBefore, cpuTimes());
  await services.stop();
  const maxLag = await lag();
  const queries = await loop?.stop();
  const mean =
    queries && queries.ms.length > 0
      ? queries.ms.reduce((a, b) => a + b, 0) / queries.ms.length
      : undefined;
  return [
    fmt(summary.messagesPerSecond),
    fmt(summary.seconds, 1),
    queries ? fmt(queries.ms.length) : '–',
    mean === undefined ? '–' : fmt(mean),
    queries ? fmt(queries.cancelled) : '–',
    fmt(maxLag, 1),
    busy.length > 0 ? busy.join(' / ') : '–',
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string' },
      messages: { type: 'string' },
      rounds: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const rows = integerFlag(values.rows, 'rows', {
    min: 10_000,
    max: 50_000_000,
    fallback: 1_500_000,
  });
  const messages = integerFlag(values.messages, 'messages', {
    min: 100,
    max: 1_000_000,
    fallback: 20_000,
  });
  const rounds = integerFlag(values.rounds, 'rounds', { min: 1, max: 20, fallback: 1 });
  const unavailable = replicaUnavailable();
  if (unavailable !== undefined) throw new Error(unavailable);

  // Two instances, as RDS has them: the replica on one core, the primary and the pipeline
  // (this process: handler, SQS emulator) on the other. Children inherit the affinity.
  const pinned = existsSync('/usr/bin/taskset') && availableParallelism() >= 2;
  if (pinned) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)]);
  const teardown = benchTeardown('bench:replica');
  try {
    const servers = teardown.add(
      await startReplicatedPostgres(pinned ? { cpus: { primary: '0', replica: '1' } } : {}),
      (started) => started.stop(),
    );
    const pool = teardown.add(
      handleConnectionErrors(new pg.Pool({ connectionString: servers.primaryUrl, max: 2 })),
      endPool,
    );
    await migrate(pool);
    await maintain(pool, { today: new Date(Date.now() - DAYS * 86_400_000), aheadDays: DAYS + 90 });
    const users = Math.max(1_000, Math.round(rows / 10));
    const fillStarted = performance.now();
    for (let from = 0; from < rows; from += 500_000) {
      const to = Math.min(rows, from + 500_000);
      await pool.query(FILL_SQL, [from, to, DAYS, users]);
      log(
        `filled ${fmt(to)} of ${fmt(rows)} rows (${fmt((performance.now() - fillStarted) / 1000)} s)`,
      );
    }
    await pool.query('VACUUM ANALYZE user_logins');
    await servers.waitForReplay(600_000);
    log(
      `replica caught up (${fmt((performance.now() - fillStarted) / 1000)} s after the fill began)`,
    );

    // One untimed drain: bundles built, caches warm.
    const warm = await runLocal({
      messages: 1_000,
      seed: 1,
      batchSize: 100,
      concurrency: 2,
      databaseUrl: servers.primaryUrl,
    });
    await warm.services.stop();

    const phases = [
      { label: 'no analyst query', url: undefined },
      { label: 'query loop on the primary', url: servers.primaryUrl },
      { label: 'query loop on the replica', url: servers.replicaUrl },
    ];
    const results: string[][] = [];
    const load = loadavg()[0] ?? 0;
    for (let round = 1; round <= rounds; round++) {
      for (const [i, phase] of phases.entries()) {
        const row = await drain(servers, phase.url, messages, 100 * round + i);
        results.push([rounds > 1 ? `${phase.label} (${round})` : phase.label, ...row]);
        log(`${phase.label}, round ${round}: ${row[0]} msg/s`);
      }
    }

    const header = [
      'analyst load',
      'drain msg/s',
      'drain s',
      'queries done',
      'query mean ms',
      'cancelled',
      'replica lag max s',
      'busy % per CPU',
    ];
    const widths = header.map((h, c) =>
      Math.max(h.length, ...results.map((r) => (r[c] ?? '').length)),
    );
    const line = (cells: readonly string[]) =>
      `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join(' | ')} |`;
    process.stdout.write(
      [
        `PostgreSQL 15 primary + hot standby (pg_basebackup, asynchronous streaming), ${
          pinned
            ? 'pinned with taskset: the replica on CPU 1, the primary and this process (handler, SQS emulator) on CPU 0'
            : 'not pinned: both servers and the pipeline share every core'
        }.`,
        `${fmt(rows)} rows in the last ${DAYS} days; then ${fmt(messages)} messages drained by runLocal (batch 100, 2 pollers) per row below, back to back.`,
        `Load average (1 min) when the drains began: ${fmt(load, 1)}, at the end: ${fmt(loadavg()[0] ?? 0, 1)} on ${cpus().length} cores (others' work included).`,
        fillDescription(DAYS, users, 'month'),
        'Query loop: the recommended 7-day duplicate queries (ips, devices; docs/design/schema.md), alternately, as the analyst role, one at a time.',
        '',
        line(header),
        `|${widths.map((w, c) => (c === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
        ...results.map(line),
        '',
      ].join('\n'),
    );
  } finally {
    await teardown.run();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:replica: ${(error as Error)?.message ?? error}\n`);
  process.exitCode = 1;
});
