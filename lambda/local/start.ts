/**
 * `npm start`: runs the whole pipeline on this machine through the shipped Lambda bundle.
 * See `npm start -- --help`.
 */
import { parseArgs } from 'node:util';
import { runCommand } from '../command';
import { type RunSummary, runLocal, type Services } from './run';

const HELP = `Usage: npm start -- [options]

Runs SQS -> mask -> PostgreSQL on this machine with the Lambda bundle that ships.
With no options everything is embedded: PostgreSQL, an SQS endpoint with login-queue and its
DLQ, and a Secrets Manager stand-in holding a fresh masking key.

  --messages N          generated messages to send first (default 1000; 0 with --queue-url)
  --batch-size N        records per invocation, 1..10000 (default 100)
  --concurrency N       parallel pollers, each its own handler instance (default 2)
  --keep                leave the services running and print how to reach them
  --sqs-endpoint URL    use an existing SQS endpoint, e.g. LocalStack   [SQS_ENDPOINT]
  --queue-url URL       the queue to drain there (default <endpoint>/000000000000/login-queue)
                                                                        [QUEUE_URL]
  --dlq-url URL         DLQ for invalid messages (default: <queue>-dlq, created)  [DLQ_URL]
  --database-url URL    use an existing PostgreSQL                       [DATABASE_URL]
  --masking-secret JSON the masking key ring, e.g. {"current":"k1","k1":"<43+ chars>"}
                                                                        [MASKING_SECRET]
  --verbose             print the handler's JSON log lines to stderr
  --help                this text

Take-home environment (LocalStack on 4566 with login-queue, Postgres with user_logins):
  npm start -- --sqs-endpoint http://localhost:4566 \\
    --database-url postgres://postgres:postgres@localhost:5432/postgres
`;

function integer(
  value: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} must be an integer in [${min}, ${max}], got "${value}"`);
  }
  return n;
}

// Handler logs are captured while the pipeline runs; our own output uses these.
const err = process.stderr.write.bind(process.stderr);
const write = process.stdout.write.bind(process.stdout);
const out = (line = '') => write(`${line}\n`);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function printSummary(summary: RunSummary, services: Services, keep: boolean): void {
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
    out(
      '\nOperator commands against these services (local keys; in AWS they live in Secrets Manager):',
    );
    out(
      `  export DATABASE_URL='${services.databaseUrl}' AWS_ENDPOINT_URL_SQS=${services.sqsEndpoint} DLQ_URL=${services.dlqUrl} QUEUE_URL=${services.queueUrl}`,
    );
    out(`  export MASKING_SECRET='${services.maskingSecret}'`);
    out(`  export RECOVERY_SECRET='${services.recoverySecret}'`);
    out(
      '  npm run dlq -- --peek;  npm run redrive;  npm run unmask -- <token> --reason "<why>";  npm run rekey',
    );
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string' },
      'batch-size': { type: 'string' },
      concurrency: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'sqs-endpoint': { type: 'string', default: process.env.SQS_ENDPOINT },
      'queue-url': { type: 'string', default: process.env.QUEUE_URL },
      'dlq-url': { type: 'string', default: process.env.DLQ_URL },
      'database-url': { type: 'string', default: process.env.DATABASE_URL || undefined },
      'masking-secret': { type: 'string', default: process.env.MASKING_SECRET },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const external = values['sqs-endpoint'] !== undefined || values['queue-url'] !== undefined;
  const tty = process.stderr.isTTY;
  let lastPrint = 0;
  const { summary, services } = await runLocal({
    messages: integer(values.messages, 'messages', external ? 0 : 1000, 0, 1_000_000),
    batchSize: integer(values['batch-size'], 'batch-size', 100, 1, 10_000),
    concurrency: integer(values.concurrency, 'concurrency', 2, 1, 64),
    sqsEndpoint:
      values['sqs-endpoint'] ??
      (values['queue-url'] ? new URL(values['queue-url']).origin : undefined),
    queueUrl: values['queue-url'],
    dlqUrl: values['dlq-url'],
    databaseUrl: values['database-url'],
    maskingSecret: values['masking-secret'],
    onLog: values.verbose ? (line) => err(`${line}\n`) : undefined,
    onNotice: (line) => err(`${tty ? '\n' : ''}${line}\n`),
    onProgress: (p) => {
      const now = Date.now();
      if (now - lastPrint < (tty ? 200 : 2000)) return;
      lastPrint = now;
      const line = `  batches ${fmt(p.batches)}  deliveries ${fmt(p.delivered)}  written ${fmt(p.written)}  dead-lettered ${fmt(p.deadLettered)}  retried ${fmt(p.retried)}`;
      err(tty ? `\r${line}` : `${line}\n`);
    },
  });
  if (tty) err('\n');
  printSummary(summary, services, values.keep);
  if (!values.keep) {
    await services.stop();
    return 0;
  }
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  await services.stop();
  return 0;
}

runCommand('npm start', main);
