/**
 * `npm start`: runs the whole pipeline on this machine through the shipped Lambda bundle.
 * See `npm start -- --help`.
 */
import { integerFlag, parseCommandLine, runCommand } from '../command';
import { UsageError } from '../errors';
import { databaseUrlFlag } from '../ops/preflight';
import { progressLine, progressReporter } from '../ops/progress';
import { runCleanups } from './cleanup';
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
  --verbose             print the handler's JSON log lines to stderr
  -h, --help            this text

The queue and the database are checked before anything is changed (migrations included).

Take-home environment (LocalStack on 4566 with login-queue, Postgres with user_logins):
  npm start -- --sqs-endpoint http://localhost:4566 \\
    --database-url postgres://postgres:postgres@localhost:5432/postgres
`;

// Handler logs are captured while the pipeline runs; our own output uses these.
const err = process.stderr.write.bind(process.stderr);
const write = process.stdout.write.bind(process.stdout);
const out = (line = '') => write(`${line}\n`);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Where keys go when an existing database is used and no --keys-file is given. */
const DEFAULT_KEYS_FILE = 'login-queue-keys.json';

function printSummary(
  summary: RunSummary,
  services: Services,
  keep: boolean,
  keysPersist: boolean,
): void {
  const reasons = Object.entries(summary.deadLetterQueue.byReason)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const rows: [string, number, string?][] = [
    ['messages sent', summary.sent],
    ['deliveries received by the handler', summary.delivered],
    ['rows written', summary.written],
    ['duplicate deliveries ignored', summary.duplicates],
    ['dead-lettered by the handler', summary.deadLettered],
    ['deliveries reported failed (retried)', summary.retried],
    ['messages in the DLQ now', summary.deadLetterQueue.total, reasons],
    ['rows in user_logins', summary.rows],
    ['masked ips seen more than once', summary.repeatedIps],
    ['masked device ids seen more than once', summary.repeatedDevices],
  ];
  out(
    `\nDrained in ${summary.seconds.toFixed(1)} s: ${fmt(summary.messagesPerSecond)} messages/s\n`,
  );
  for (const [label, n, extra] of rows)
    out(`  ${label.padEnd(40)} ${fmt(n).padStart(8)}  ${extra ?? ''}`);
  const others = Object.entries(summary.rowsOnOtherKeys);
  if (others.length > 0) {
    const list = others.map(([id, n]) => `${fmt(n)} on "${id}"`).join(', ');
    err(
      `\nWarning: user_logins holds rows masked with keys not in ${services.keysFile} (${list}); their tokens never equal this run's. Run with the keys file they were made with (--keys-file); or, to bring them onto this ring, add that file's recovery key to this file's recovery ring and re-key (npm run rekey), which opens each row's sealed values with it.\n`,
    );
  }
  const psql = `psql '${services.databaseUrl}'`;
  out(
    `\n${keep ? 'Query the result:' : 'Query the result (add --keep to leave the services running):'}`,
  );
  out(
    `  ${psql} -c "SELECT masked_ip, count(*) FROM user_logins GROUP BY 1 HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 5"`,
  );
  out(
    `  ${psql} -c "SELECT create_date, device_type, count(*) FROM user_logins GROUP BY 1, 2 ORDER BY 1, 2"`,
  );
  if (keep) {
    out('\nServices (Ctrl-C stops them):');
    out(`  DATABASE_URL=${services.databaseUrl}`);
    out(
      `  SQS endpoint ${services.sqsEndpoint}  queue ${services.queueUrl}  DLQ ${services.dlqUrl}`,
    );
    out(
      `  Secrets Manager endpoint ${services.secretsEndpoint}  masking secret ${services.maskingSecretId}`,
    );
    out(`\nOperator commands against these services (${keysNote(services, keysPersist)}):`);
    out(`  export ${operatorEnvLine(services)}`);
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
}

/** The environment the operator commands need, as one `export` line (no key material). */
function operatorEnvLine(services: Services): string {
  const env: Record<string, string> = {
    DATABASE_URL: services.databaseUrl,
    ...services.awsEnv,
    QUEUE_URL: services.queueUrl,
    DLQ_URL: services.dlqUrl,
    KEYS_FILE: services.keysFile,
  };
  return Object.entries(env)
    .map(([name, value]) => `${name}='${value.replaceAll("'", "'\\''")}'`)
    .join(' ');
}

function keysNote(services: Services, persist: boolean): string {
  if (!persist) return `keys in ${services.keysFile}, removed when the services stop`;
  return services.keysCreated
    ? `keys generated into ${services.keysFile}, mode 600; keep it: later runs with --keys-file reuse it, and unmask and rekey read it as KEYS_FILE`
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
      verbose: { type: 'boolean', default: false },
    },
  });
  if (args === undefined) return 0;
  const { values } = args;
  // Ctrl-C while it runs: remove the temporary cluster and keys file, then exit 130. (The
  // embedded server's own exit hook could not: the same Ctrl-C has stopped the server.)
  releaseSignal('SIGINT');
  releaseSignal('SIGTERM');
  const interrupt = () => {
    process.stderr.write('\nnpm start: interrupted; removing what it created\n');
    runCleanups().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
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
  };
  const progress = progressReporter(err);
  err(
    `  ${external || databaseUrl ? 'checking the given services, then starting' : 'starting'} the local services and building the bundle\n`,
  );
  let phase: Progress['phase'] | undefined;
  let lastForced = '';
  const { summary, services } = await runLocal({
    ...options,
    sqsEndpoint,
    queueName: values['queue-name'],
    queueUrl,
    dlqUrl: urlFlag(values['dlq-url'], 'dlq-url'),
    databaseUrl,
    keysFile,
    onLog: values.verbose ? (line) => err(`${line}\n`) : undefined,
    onNotice: (line) => err(`${process.stderr.isTTY ? '\n' : ''}${line}\n`),
    onProgress: (p) => {
      const changed = p.phase !== phase;
      phase = p.phase;
      const line = progressLine(p, 'messages');
      const text =
        p.phase === 'sending'
          ? `  sending   ${line}`
          : `  draining  ${line}  |  delivered ${fmt(p.delivered)}  written ${fmt(p.written)}  dead-lettered ${fmt(p.deadLettered)}  retried ${fmt(p.retried)}`;
      // A phase's first line and its final counts always show; the same final counts once.
      const counts = [p.phase, p.done, p.total, p.delivered, p.written, p.deadLettered, p.retried];
      const key = counts.join(' ');
      progress.show(text, changed || (p.done >= p.total && key !== lastForced));
      if (changed || p.done >= p.total) lastForced = key;
    },
  });
  progress.end();
  printSummary(summary, services, values.keep, keysFile !== undefined);
  if (!values.keep) {
    await services.stop();
    return 0;
  }
  // With --keep, Ctrl-C is the way to stop: the services stop cleanly and the exit is 0.
  process.off('SIGINT', interrupt);
  process.off('SIGTERM', interrupt);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await services.stop();
  await runCleanups();
  return 0;
}

/** An http(s) URL flag; UsageError otherwise. */
function urlFlag(raw: string | undefined, flag: string): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol))
    throw new UsageError(`--${flag} must be an http(s) URL, got "${raw}"`);
  return raw;
}

runCommand('npm start', main);
