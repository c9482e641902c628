/**
 * `npm start`: runs the whole pipeline on this machine through the shipped Lambda bundle.
 * See `npm start -- --help`.
 */
import { resolve } from 'node:path';
import { integerFlag, parseCommandLine, runCommand } from '../cli/command';
import { databaseUrlFlag } from '../cli/flags';
import { DEFAULT_KEYS_FILE } from '../cli/keys-file';
import { progressLine, progressReporter } from '../cli/progress';
import { Env } from '../contract/env';
import { UsageError } from '../core/errors';
import { hasPassword, redactPasswords } from '../core/redact';
import { databaseAddress } from '../db/database-config';
import { onInterrupt, runCleanups } from './cleanup';
import { releaseSignal } from './postgres';
import { type Progress, type RunSummary, runLocal, type Services } from './run';

const HELP = `Usage: npm start -- [options]

Runs SQS -> mask -> PostgreSQL on this machine with the Lambda bundle that ships.
With no options everything is embedded: PostgreSQL, an SQS endpoint with login-queue and its
DLQ, and a Secrets Manager stand-in holding fresh keys.

  --messages N          generated messages to send first, 0..1000000
                        (default 1000; 0 with an existing SQS endpoint)
  --batch-size N        records per invocation, 1..10000 (default 100)
  --concurrency N       parallel pollers, each its own handler instance, 1..64 (default 2)
  --keep                leave the services running; print the environment for the
                        operator commands (npm run dlq, redrive, unmask, rekey, forget)
  --sqs-endpoint URL    use an existing SQS endpoint, e.g. LocalStack  [AWS_ENDPOINT_URL_SQS]
  --queue-name NAME     the queue to drain there (default login-queue; found with GetQueueUrl)
  --queue-url URL       the queue to drain, by URL instead of name            [QUEUE_URL]
  --dlq-url URL         DLQ for invalid messages (default: <queue>-dlq, created)  [DLQ_URL]
  --database-url URL    use an existing PostgreSQL                         [DATABASE_URL]
  --keys-file FILE      the masking and recovery keys: read if the file exists, else
                        generated and written there (mode 600)             [KEYS_FILE]
                        (default with --database-url: login-queue-keys.json; without it
                        the keys live in a temporary file removed at the end)
  --outage-limit S      how long PostgreSQL (or the key source) may not answer, in
                        seconds, 10..86400 (default 300): meanwhile nothing is received
                        and records wait in the queue; then the run fails, exit 1
  --verbose             print the handler's JSON log lines to stderr
  -h, --help            this text

The queue and the database are checked before anything is changed (migrations included).

Take-home environment (LocalStack on 4566 with login-queue, Postgres with user_logins):
  npm start -- --sqs-endpoint http://localhost:4566 \\
    --database-url postgres://postgres:postgres@localhost:5432/postgres
`;

// Handler logs are captured while the pipeline runs; our own output uses these, and no
// password in a URL gets through them.
const stderr = process.stderr.write.bind(process.stderr);
const stdout = process.stdout.write.bind(process.stdout);
const err = (text: string) => stderr(redactPasswords(text));
const out = (line = '') => stdout(redactPasswords(`${line}\n`));

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function printSummary(
  summary: RunSummary,
  services: Services,
  keep: boolean,
  keysPersist: boolean,
): void {
  const reasons = reasonList(summary.deadLetterQueue.byReason);
  const own = summary.ownDeadLetters;
  const ownExtra = [
    reasonList(own.byReason),
    own.copies > 0 ? `and ${fmt(own.copies)} copies of them (delivered again)` : '',
  ]
    .filter(Boolean)
    .join('; ');
  const rows: [string, number, string?][] = [
    ['messages sent', summary.sent],
    ['deliveries received by the handler', summary.delivered],
    ['rows written', summary.written],
    ['duplicate deliveries ignored', summary.duplicates],
    ['dead-lettered by this run (messages)', own.messages, ownExtra],
    ['deliveries reported failed (retried)', summary.retried],
    ['messages in the DLQ now (every run)', summary.deadLetterQueue.total, reasons],
    ['rows in user_logins', summary.rows],
    ['masked ips seen more than once', summary.repeatedIps],
    ['masked device ids seen more than once', summary.repeatedDevices],
  ];
  out(
    `\nDrained in ${summary.seconds.toFixed(1)} s: ${fmt(summary.messagesPerSecond)} messages/s\n`,
  );
  for (const [label, n, extra] of rows)
    out(`  ${label.padEnd(40)} ${fmt(n).padStart(8)}  ${extra ?? ''}`);
  // psql hints only for a server that stays up: with --keep, or one this run did not start.
  const serverStays = keep || services.postgres === undefined;
  const database = databaseUrlRef(services);
  if (keep) {
    out('\nServices (Ctrl-C stops them):');
    out(`  PostgreSQL ${databaseAddress({ kind: 'url', url: services.databaseUrl })}`);
    out(
      `  SQS endpoint ${services.sqsEndpoint}  queue ${services.queueUrl}  DLQ ${services.dlqUrl}`,
    );
    out(
      `  Secrets Manager endpoint ${services.secretsEndpoint}  masking secret ${services.maskingSecretId}`,
    );
    out(`\nOperator commands against these services (${keysNote(services, keysPersist)}):`);
    if (database.note) out(`  ${database.note}`);
    out(`  export ${operatorEnvLine(services, database.shell)}`);
    out(
      '  npm run dlq -- --peek;  npm run redrive;  npm run unmask -- <token> --reason "<why>";  npm run rekey',
    );
    out('  npm run forget -- --user-id <user_id> --reason "<why>" [--delete-dead-letters]');
    out('  (maintain, forget, redrive and rekey take --dry-run: see first what they would change)');
    out('  npm run send -- <file>   puts bodies on the queue (one per line, or a JSON array)');
    out('  npm start                drains the queue again, e.g. after a redrive (sends nothing)');
  } else if (services.keysCreated && keysPersist) {
    out(`\nKeys: ${keysNote(services, keysPersist)}.`);
  }
  if (serverStays) {
    out(`\nQuery the result${keep ? ' (after the export above)' : ''}:`);
    if (!keep && database.note) out(`  ${database.note}`);
    const psql = `psql ${keep || database.note ? '"$DATABASE_URL"' : database.shell}`;
    out(
      `  ${psql} -c "SELECT masked_ip, count(*) FROM user_logins GROUP BY 1 HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 5"`,
    );
    out(
      `  ${psql} -c "SELECT create_date, device_type, count(*) FROM user_logins GROUP BY 1, 2 ORDER BY 1, 2"`,
    );
  }
}

/** "user_id.missing 12, body.not_json 3", most first. */
function reasonList(byReason: Readonly<Record<string, number>>): string {
  return Object.entries(byReason)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
}

/**
 * How printed commands refer to the database URL without printing its password: the embedded
 * server's mode-600 URL file; a given URL as it is when it has no password; else the
 * DATABASE_URL the user sets to the URL they gave (`note` says so, password masked).
 */
function databaseUrlRef(services: Services): { shell: string; note?: string } {
  const url = services.databaseUrl;
  if (services.postgres !== undefined)
    return { shell: `"$(cat ${shellQuote(services.postgres.urlFile)})"` };
  if (!hasPassword(url)) return { shell: shellQuote(url) };
  return {
    shell: '"$DATABASE_URL"',
    note: `with DATABASE_URL set to the URL you gave (${redactPasswords(url)}):`,
  };
}

const shellQuote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;

/**
 * The environment the operator commands need, as one `export` line: no key material, and the
 * database URL as `database` refers to it (left out when it is the user's own DATABASE_URL).
 */
function operatorEnvLine(services: Services, database: string): string {
  const env: Record<string, string> = {
    ...services.awsEnv,
    QUEUE_URL: services.queueUrl,
    [Env.DLQ_URL]: services.dlqUrl,
    // Absolute: the line must work in whichever directory it is pasted.
    KEYS_FILE: resolve(services.keysFile),
  };
  return [
    ...(database === '"$DATABASE_URL"' ? [] : [`${Env.DATABASE_URL}=${database}`]),
    ...Object.entries(env).map(([name, value]) => `${name}=${shellQuote(value)}`),
  ].join(' ');
}

function keysNote(services: Services, persist: boolean): string {
  if (!persist) return `keys in ${services.keysFile}, removed when the services stop`;
  return services.keysCreated
    ? `keys generated into ${services.keysFile}, mode 600; keep it: later runs on this database find it and reuse it, and unmask and rekey read it as KEYS_FILE`
    : `keys from ${services.keysFile}`;
}

async function main(): Promise<number> {
  const args = parseCommandLine(HELP, {
    options: {
      messages: { type: 'string' },
      'batch-size': { type: 'string' },
      concurrency: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'sqs-endpoint': { type: 'string', default: process.env.AWS_ENDPOINT_URL_SQS || undefined },
      'queue-name': { type: 'string' },
      'queue-url': { type: 'string', default: process.env.QUEUE_URL || undefined },
      'dlq-url': { type: 'string', default: process.env.DLQ_URL || undefined },
      'database-url': { type: 'string', default: process.env.DATABASE_URL || undefined },
      'keys-file': { type: 'string', default: process.env.KEYS_FILE || undefined },
      'outage-limit': { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (args === undefined) return 0;
  const { values } = args;
  // Ctrl-C (or SIGTERM) in any phase: one stop that ends the services, removes what this run
  // put in the temp folder, says so in one line and exits 130. (The embedded server's own
  // exit hook could not: the same Ctrl-C has stopped the server.)
  releaseSignal('SIGINT');
  releaseSignal('SIGTERM');
  let stopping = false;
  const interrupted = new Promise<void>((resolve) =>
    onInterrupt(() => {
      stopping = true;
      resolve();
    }),
  );
  if (values['queue-name'] !== undefined && values['queue-url'] !== undefined)
    throw new UsageError('give --queue-name or --queue-url, not both');
  const queueUrl = urlFlag(values['queue-url'], 'queue-url');
  const sqsEndpoint =
    urlFlag(values['sqs-endpoint'], 'sqs-endpoint') ??
    (queueUrl ? new URL(queueUrl).origin : undefined);
  const databaseUrl = databaseUrlFlag(values['database-url']);
  const external = sqsEndpoint !== undefined;
  if (!external && (values['queue-name'] !== undefined || values['dlq-url'] !== undefined))
    throw new UsageError('--queue-name and --dlq-url need --sqs-endpoint (or --queue-url)');
  const keysFile = values['keys-file'] ?? (databaseUrl ? DEFAULT_KEYS_FILE : undefined);
  const options = {
    messages: integerFlag(values.messages, 'messages', {
      min: 0,
      max: 1_000_000,
      fallback: external ? 0 : 1000,
    }),
    batchSize: integerFlag(values['batch-size'], 'batch-size', {
      min: 1,
      max: 10_000,
      fallback: 100,
    }),
    concurrency: integerFlag(values.concurrency, 'concurrency', { min: 1, max: 64, fallback: 2 }),
    outageLimitMs:
      1000 *
      integerFlag(values['outage-limit'], 'outage-limit', { min: 10, max: 86_400, fallback: 300 }),
  };
  const progress = progressReporter(err);
  const given = [external && 'SQS', databaseUrl && 'PostgreSQL'].filter(Boolean);
  err(
    given.length === 2
      ? '  checking the given SQS and PostgreSQL, then building the bundle\n'
      : given.length === 1
        ? `  checking the given ${given[0]}, then starting the rest here and building the bundle\n`
        : '  starting the local services and building the bundle\n',
  );
  let phase: string | undefined;
  let last: Progress | undefined;
  let lastForced = '';
  const run = runLocal({
    ...options,
    sqsEndpoint,
    queueName: values['queue-name'],
    queueUrl,
    dlqUrl: urlFlag(values['dlq-url'], 'dlq-url'),
    databaseUrl,
    keysFile,
    onLog: values.verbose ? (line) => err(`${line}\n`) : undefined,
    onNotice: (line) => {
      if (!stopping) err(`${process.stderr.isTTY ? '\n' : ''}${line}\n`);
    },
    onProgress: (p) => {
      if (stopping) return;
      last = p;
      // An outage's start and end show at once, as a new phase would.
      const stage = p.outage ? `${p.phase}, ${p.outage.service} down` : p.phase;
      const changed = stage !== phase;
      phase = stage;
      const line = progressLine(p, 'messages');
      const text =
        p.phase === 'sending'
          ? `  sending   ${line}`
          : p.outage
            ? `  waiting   ${p.outage.service}: not answering (${p.outage.reason}), records back off (${Math.floor(p.outage.seconds)} s)  |  ${fmt(p.done)} / ${fmt(p.total)} messages`
            : `  draining  ${line}  |  delivered ${fmt(p.delivered)}  written ${fmt(p.written)}  dead-lettered ${fmt(p.deadLettered)}  retried ${fmt(p.retried)}`;
      // A phase's first line and its final counts always show; the same final counts once.
      const counts = [p.phase, p.done, p.total, p.delivered, p.written, p.deadLettered, p.retried];
      const key = counts.join(' ');
      progress.show(text, changed || (p.done >= p.total && key !== lastForced));
      if (changed || p.done >= p.total) lastForced = key;
    },
  });
  const stop = async (where: string) => {
    progress.end();
    err(`${where}${await stopEverything({ databaseUrl, keysFile })}\n`);
    return 130;
  };
  let ran: Awaited<typeof run> | undefined;
  try {
    ran = (await Promise.race([run, interrupted])) ?? undefined;
  } catch (error) {
    // A terminal's Ctrl-C reaches PostgreSQL too: a failure it caused may arrive just before
    // the signal itself, and is then the stop, not a failure of its own.
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (!stopping) throw error;
  }
  if (ran === undefined) {
    // What the run does after this fails against stopped services; the stop is its end.
    run.catch(() => {});
    return stop(`${howFar(last)}; `);
  }
  const { summary, services } = ran;
  progress.end();
  printSummary(summary, services, values.keep, keysFile !== undefined);
  if (!values.keep) {
    await services.stop();
    return 0;
  }
  await interrupted;
  return stop('ended: ');
}

/** How far an interrupted run got: "interrupted: 22,800 of 200,000 drained". */
function howFar(last: Progress | undefined): string {
  if (last === undefined) return 'interrupted while starting';
  const what = last.phase === 'sending' ? 'sent' : 'drained';
  return `interrupted: ${fmt(last.done)} of ${fmt(last.total)} ${what}`;
}

/**
 * Stops everything this run started and removes what it put in the temp folder (runCleanups);
 * returns what was done, for the one line Ctrl-C prints.
 */
async function stopEverything(given: { databaseUrl?: string; keysFile?: string }): Promise<string> {
  const failures = await runCleanups();
  if (failures.length > 0) {
    const reasons = failures.map((error) => (error as Error | undefined)?.message ?? String(error));
    return `stopping failed: ${reasons.join('; ')}`;
  }
  const removed =
    given.databaseUrl === undefined
      ? `temporary database${given.keysFile === undefined ? ' and keys file' : ''}`
      : given.keysFile === undefined
        ? 'temporary keys file'
        : undefined;
  return removed === undefined ? 'services stopped' : `services stopped, ${removed} removed`;
}

/** An http(s) URL flag; UsageError otherwise. */
function urlFlag(raw: string | undefined, flag: string): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol))
    throw new UsageError(`--${flag} must be an http(s) URL, got "${redactPasswords(raw)}"`);
  return raw;
}

runCommand('npm start', main);
