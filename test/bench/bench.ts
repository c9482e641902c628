/**
 * `npm run bench`: the shipped handler's throughput against real PostgreSQL, beside a raw
 * COPY of the same rows into the same table in the same run. With DATABASE_URL, in a database
 * of its own on that server (created and dropped), else on an embedded server. Prints a table;
 * the last line is `ratio: R` (handler / COPY at 10,000 records).
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import pg from 'pg';
import { buildBundles } from '../../lambda/cli/build';
import { parseCommandLine, runCommand } from '../../lambda/cli/command';
import { progressLine } from '../../lambda/cli/progress';
import { bundlePath } from '../../lambda/contract/bundling';
import { UsageError } from '../../lambda/core/errors';
import { generateRecoveryKeyPair } from '../../lambda/core/recovery';
import { migrate } from '../../lambda/db/migrate';
import { endPool, handleConnectionErrors } from '../../lambda/db/pool';
import { startLocalAws } from '../../lambda/local/aws';
import { RECEIVES_IN_FLIGHT } from '../../lambda/local/event-source';
import { generateBodies } from '../../lambda/local/generate';
import { startLocalPostgres } from '../../lambda/local/postgres';
import { runLocal } from '../../lambda/local/run';
import { buildChild, FUNCTION_MB, runChild, SMALLEST_MB } from './child';
import { copyRate, repsFor } from './copy';
import { database, runScale, SCALE_HELP, SCALE_OPTIONS } from './scale';
import { benchTeardown } from './teardown';

const SIZES = [10, 100, 1_000, 10_000];

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const DRAIN_MESSAGES = 5_000;
const POLLERS = 2;

/**
 * The SQS emulator's own receive + delete rate under the same request concurrency as the
 * drain (POLLERS x RECEIVES_IN_FLIGHT consumers, each Receive(10) + DeleteMessageBatch, the
 * same attributes requested), with no handler at all.
 */
async function emulatorRate(): Promise<number> {
  const aws = await startLocalAws();
  try {
    const sqs = new SQSClient({
      endpoint: aws.sqsEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      useQueueUrlAsEndpoint: false,
    });
    const bodies = generateBodies(DRAIN_MESSAGES, { seed: 1 });
    await Promise.all(
      Array.from({ length: Math.ceil(bodies.length / 10) }, (_, i) =>
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: aws.queueUrl,
            Entries: bodies
              .slice(i * 10, i * 10 + 10)
              .map((body, j) => ({ Id: String(j), MessageBody: body })),
          }),
        ),
      ),
    );
    let drained = 0;
    const started = performance.now();
    const poller = async () => {
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: aws.queueUrl,
            MaxNumberOfMessages: 10,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        if (Messages.length === 0) return;
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: aws.queueUrl,
            Entries: Messages.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        drained += Messages.length;
      }
    };
    await Promise.all(Array.from({ length: POLLERS * RECEIVES_IN_FLIGHT }, poller));
    return drained / ((performance.now() - started) / 1000);
  } finally {
    await aws.stop();
  }
}

/** `npm start`'s drain rate over the same emulator, with the same number of pollers. */
async function drainRate(databaseUrl: string): Promise<number> {
  const { summary, services } = await runLocal({
    messages: DRAIN_MESSAGES,
    seed: 1,
    batchSize: 100,
    concurrency: POLLERS,
    databaseUrl,
  });
  await services.stop();
  return summary.messagesPerSecond;
}

// Progress on stderr, so that stdout stays the table docs/performance.md quotes.
const STEPS = SIZES.length * 5 + 3 * 2;
let step = 0;
const benchStarted = Date.now();
function stepDone(what: string): void {
  step++;
  process.stderr.write(
    `bench: ${progressLine({ done: step, total: STEPS, elapsedMs: Date.now() - benchStarted }, 'steps')}  (${what})\n`,
  );
}

async function main(): Promise<void> {
  process.stderr.write(`bench: ${STEPS} steps; building the bundles\n`);
  await Promise.all([buildBundles(), buildChild()]);
  const teardown = benchTeardown('bench');
  try {
    // On DATABASE_URL's server, a database of its own (created, then dropped): the benchmark
    // empties user_logins between steps, which must never be the caller's.
    const local = process.env.DATABASE_URL
      ? undefined
      : teardown.add(await startLocalPostgres(), (server) => server.stop());
    const own = process.env.DATABASE_URL
      ? teardown.add(
          await database(
            process.env.DATABASE_URL,
            `login_queue_bench_${process.pid}`,
            false,
            'month',
          ),
          (db) => db.drop(),
        )
      : undefined;
    const databaseUrl = own?.url ?? (local?.url as string);
    const aws = teardown.add(await startLocalAws(), (services) => services.stop());
    const secret = JSON.stringify({ current: 'bench', bench: 'b'.repeat(44) });
    aws.secretsManager.put('bench-key', secret);
    const pool = teardown.add(
      handleConnectionErrors(new pg.Pool({ connectionString: databaseUrl, max: 2 })),
      endPool,
    );
    await migrate(pool);
    const env = {
      ...aws.awsEnv,
      DATABASE_URL: databaseUrl,
      MASKING_SECRET_ID: 'bench-key',
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
    const { publicKey: recoveryPublicKey } = generateRecoveryKeyPair('bench');
    const rows: string[][] = [];
    let ratio = 0;
    for (const size of SIZES) {
      const measure = async (extra: Record<string, string>, memoryMb: number, reps: number) => {
        await pool.query('TRUNCATE user_logins');
        const result = await runChild(
          { bundle: bundlePath('handler'), size, reps, env: { ...env, ...extra } },
          memoryMb,
        );
        stepDone(
          `batch ${fmt(size)}, handler${extra.RECOVERY_PUBLIC_KEY ? ' with sealing' : ''}, ${memoryMb} MB`,
        );
        return result;
      };
      const sealed = { RECOVERY_PUBLIC_KEY: recoveryPublicKey };
      const handler = await measure({}, FUNCTION_MB, repsFor(size));
      const sealing = await measure(sealed, FUNCTION_MB, repsFor(size));
      const smallest = await measure({}, SMALLEST_MB, repsFor(size));
      const smallestSealing = await measure(sealed, SMALLEST_MB, repsFor(size));
      await pool.query('TRUNCATE user_logins');
      const copy = await copyRate(pool, size, secret);
      stepDone(`batch ${fmt(size)}, COPY`);
      const rate = handler.records / (handler.totalMs / 1000);
      ratio = rate / copy;
      rows.push([
        fmt(size),
        fmt(rate),
        fmt(sealing.records / (sealing.totalMs / 1000)),
        fmt(copy),
        ratio.toFixed(2),
        handler.statementsPerBatch.toFixed(2),
        sealing.statementsPerBatch.toFixed(2),
        smallest.peakRssMb.toFixed(0),
        smallestSealing.peakRssMb.toFixed(0),
      ]);
    }
    const header = [
      'batch',
      'handler rec/s',
      'sealing on rec/s',
      'COPY rec/s',
      'handler/COPY',
      'writes/batch',
      'sealing on',
      'peak RSS MB',
      'sealing on',
    ];
    const widths = header.map((h, i) =>
      Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)),
    );
    const line = (cells: string[]) =>
      `| ${cells.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |`;
    console.log(
      `PostgreSQL: ${local ? 'embedded' : 'DATABASE_URL'}; node ${process.version}; ${repsFor(10_000)} batches of 10,000; ` +
        `rec/s with the V8 limits of the deployed ${FUNCTION_MB} MB function, peak RSS (whole process) with those of a ${SMALLEST_MB} MB one`,
    );
    console.log(line(header));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const row of rows) console.log(line(row));
    // The emulator and the drain alternate three times; medians, as both vary run to run.
    const emulatorRuns: number[] = [];
    const drainRuns: number[] = [];
    for (let round = 0; round < 3; round++) {
      await pool.query('TRUNCATE user_logins');
      emulatorRuns.push(await emulatorRate());
      stepDone(`emulator round ${round + 1} of 3`);
      await pool.query('TRUNCATE user_logins');
      drainRuns.push(await drainRate(databaseUrl));
      stepDone(`npm start drain round ${round + 1} of 3`);
    }
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[1] ?? 0;
    const [emulator, drain] = [median(emulatorRuns), median(drainRuns)];
    console.log('');
    console.log(
      `SQS emulator (fauxqs) receive+delete, ${POLLERS * RECEIVES_IN_FLIGHT} consumers, no handler: ${fmt(emulator)} messages/s (median of 3)`,
    );
    console.log(
      `npm start drain, batch 100, ${POLLERS} pollers x ${RECEIVES_IN_FLIGHT} receives: ${fmt(drain)} messages/s (median of 3; ${(drain / emulator).toFixed(2)} of the emulator)`,
    );
    console.log(`ratio: ${ratio.toFixed(2)}`);
  } finally {
    await teardown.run();
  }
}

const HELP = `Usage: npm run bench [-- --scale [options]]

Without options: the shipped handler's records/s at batches of 10 to 10,000 beside a raw COPY
of the same rows, and the local drain beside the SQS emulator's own rate. Uses DATABASE_URL
when set (in a database of its own on that server, created and dropped), else an embedded
PostgreSQL.
${SCALE_HELP}`;

runCommand(
  'bench',
  async () => {
    const parsed = parseCommandLine(HELP, { options: SCALE_OPTIONS });
    if (parsed === undefined) return 0;
    const { scale, ...rest } = parsed.values;
    if (scale) {
      await runScale(rest);
      return 0;
    }
    const given = Object.keys(rest).filter((k) => k !== 'help');
    if (given.length > 0) throw new UsageError(`--${given[0]} is an option of --scale`);
    await main();
    return 0;
  },
  { stack: true },
);
