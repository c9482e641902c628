/**
 * The whole pipeline on one machine: PostgreSQL, SQS and Secrets Manager (embedded unless
 * given), the shipped handler bundle behind a local event source mapping, and a summary.
 * `npm start` is a thin CLI over `runLocal`; the tests call it directly.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import {
  type DeadLetterPeek,
  deadLettersAmong,
  type OwnDeadLetters,
  peekDeadLetters,
} from '../aws/dead-letters';
import { queueArnOf } from '../aws/queues';
import { queueDepth } from '../aws/source-queue';
import { buildBundles } from '../cli/build';
import { Env, type FunctionEnvironment, LibraryEnv } from '../contract/env';
import { WRITER_ROLE } from '../contract/roles';
import { ConfigError, UnreachableError } from '../core/errors';
import { MarkerAttribute } from '../core/redrive-marker';
import { createClient } from '../db/pool';
import type { BatchSummary } from '../ingest/batch';
import { localAwsEnv } from './aws';
import { type Outage, OutageError } from './breaker';
import { type BundleModule, loadBundleModule, localContext, type SqsHandler } from './bundle';
import { onCleanup } from './cleanup';
import { OUTAGE_LIMIT_MS, runEventSource, SQS_TIMEOUT_MS } from './event-source';
import { generateBodies } from './generate';
import { dependencyProbe } from './probe';
import { type ServiceOptions, type Services, sqsClient, startServices } from './services';

export type { Services } from './services';

/** The services of a run, with the login the handler uses. */
export interface RunServices extends Services {
  /**
   * What the handler logs in with: the function's role on the embedded server; the given URL
   * as it is on an existing one (its user, whatever that may do).
   */
  readonly handlerDatabaseUrl: string;
}

export interface RunOptions extends ServiceOptions {
  /** Generated messages to send first; 0 drains what is already in the queue. */
  readonly messages: number;
  /** Seed of the generated messages (default: the clock). */
  readonly seed?: number;
  readonly batchSize: number;
  /** Parallel pollers, each with its own handler instance ("container"). */
  readonly concurrency: number;
  /** Handler log lines (JSON), e.g. for --verbose. */
  readonly onLog?: (line: string) => void;
  readonly onProgress?: (progress: Progress) => void;
  /** Backoff of records whose batch failed for a systemic reason; default 1 s x5 up to 30 s. */
  readonly backoff?: { readonly baseSeconds: number; readonly maxSeconds: number };
  /** How long SQS may stay unreachable before the run fails, ms (default 60 s). */
  readonly sqsTimeoutMs?: number;
  /**
   * How long the database (or the key source) may stay down before the run fails, ms (default
   * 5 min). Meanwhile no poller receives: records wait in the queue, none dead-lettered.
   */
  readonly outageLimitMs?: number;
  /** One-line notices for the operator (SQS retries). */
  readonly onNotice?: (line: string) => void;
}

/** Counts of the drain; each batch's counts are added at once, so they never contradict. */
export interface DrainCounts {
  readonly delivered: number;
  readonly written: number;
  readonly duplicates: number;
  readonly deadLettered: number;
  readonly retried: number;
  readonly batches: number;
}

/** What a progress display needs: the phase, done of total, time so far, and the counts. */
export interface Progress extends DrainCounts {
  readonly phase: 'sending' | 'draining';
  /** Messages sent (sending), or messages gone from the queue (draining). */
  readonly done: number;
  /** Messages to send, or messages in the queue when the drain started. */
  readonly total: number;
  readonly elapsedMs: number;
  /** A dependency that does not answer (receiving has stopped), and for how long. */
  readonly outage?: { readonly service: string; readonly reason: string; readonly seconds: number };
}

export interface RunSummary extends DrainCounts {
  readonly sent: number;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  /** The whole DLQ: this run's dead letters and any others. */
  readonly deadLetterQueue: DeadLetterPeek;
  readonly ownDeadLetters: OwnDeadLetters;
  readonly rows: number;
  readonly repeatedIps: number;
  readonly repeatedDevices: number;
  /**
   * Rows masked with keys not in this run's ring, by key id, found before the run wrote any
   * (and told to onNotice then): their tokens never match ours.
   */
  readonly rowsOnOtherKeys: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly messagesPerSecond: number;
}

async function send(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
  onSent: (sent: number) => void,
): Promise<void> {
  let sent = 0;
  const chunks: string[][] = [];
  for (let i = 0; i < bodies.length; i += 10) chunks.push(bodies.slice(i, i + 10));
  const worker = async () => {
    for (let chunk = chunks.shift(); chunk !== undefined; chunk = chunks.shift()) {
      const out = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((body, i) => ({ Id: String(i), MessageBody: body })),
        }),
      );
      if ((out.Failed ?? []).length > 0)
        throw new Error(`${out.Failed?.length} messages were not sent`);
      sent += chunk.length;
      onSent(sent);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/**
 * Routes the handlers' log lines (stdout and stderr, as Powertools writes them) to `onLine`
 * instead of the terminal, and reads their 'batch processed' summaries (as CloudWatch Logs
 * Insights would). Returns the function that restores the streams.
 */
function captureHandlerLogs(
  onSummary: (summary: BatchSummary) => void,
  onLine?: (line: string) => void,
) {
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      for (const line of String(chunk).split('\n')) {
        if (line === '') continue;
        if (line.includes('"batch processed"')) onSummary(JSON.parse(line) as BatchSummary);
        onLine?.(line);
      }
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  }
  return () => {
    streams.forEach((stream, i) => {
      stream.write = writes[i] as typeof stream.write;
    });
  };
}

async function tableFacts(databaseUrl: string) {
  const client = createClient(databaseUrl);
  await client.connect();
  try {
    const { rows } = await client.query<{ rows: number; ips: number; devices: number }>(`
      SELECT (SELECT count(*) FROM user_logins)::int AS rows,
             (SELECT count(*) FROM (SELECT 1 FROM user_logins GROUP BY masked_ip HAVING count(*) > 1) t)::int AS ips,
             (SELECT count(*) FROM (SELECT 1 FROM user_logins GROUP BY masked_device_id HAVING count(*) > 1) t)::int AS devices`);
    const [facts = { rows: 0, ips: 0, devices: 0 }] = rows;
    return facts;
  } finally {
    await client.end();
  }
}

/** Rows masked with keys not in `keyIds`, by key id: their tokens never equal this run's. */
async function rowsOnKeysOtherThan(
  databaseUrl: string,
  keyIds: readonly string[],
): Promise<Record<string, number>> {
  const client = createClient(databaseUrl);
  await client.connect();
  try {
    const { rows } = await client.query<{ key_id: string; n: number }>(
      `SELECT key_id, count(*)::int AS n FROM user_logins
        WHERE key_id IS NOT NULL AND key_id <> ALL($1::text[]) GROUP BY 1 ORDER BY 1`,
      [keyIds],
    );
    return Object.fromEntries(rows.map((r) => [r.key_id, r.n]));
  } finally {
    await client.end();
  }
}

/** The warning for rows on other keys, with what to do about them. */
function otherKeysWarning(keysFile: string, rows: Readonly<Record<string, number>>): string {
  const list = Object.entries(rows)
    .map(([id, n]) => `${n.toLocaleString('en-US')} on "${id}"`)
    .join(', ');
  return `Warning: user_logins holds rows masked with keys not in ${keysFile} (${list}); their tokens never equal this run's. Run with the keys file they were made with (--keys-file); or, to bring them onto this ring, add that file's recovery key to this file's recovery ring and re-key (npm run rekey), which opens each row's sealed values with it.`;
}

/** How long a stop waits for the handlers' pools to end, ms. */
const POOL_CLOSE_MS = 5_000;

/** Closes the modules' pools, waiting at most `ms` (a pool waits for its checked-out clients). */
async function closeWithin(ms: number, modules: readonly BundleModule<unknown>[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  const closed = Promise.all(modules.map((module) => module.close().catch(() => {})));
  await Promise.race([closed, late]).finally(() => clearTimeout(timer));
}

/**
 * Runs the pipeline; resolves to the summary and the (still running) services. They are
 * registered with onCleanup, so runCleanups() stops them in any phase (npm start's Ctrl-C).
 */
export async function runLocal(
  options: RunOptions,
): Promise<{ summary: RunSummary; services: RunServices }> {
  const started = await startServices(options);
  const totals = {
    delivered: 0,
    written: 0,
    duplicates: 0,
    deadLettered: 0,
    retried: 0,
    batches: 0,
  };
  const rejectedByReason: Record<string, number> = {};
  // A handler's 'batch processed' line is logged inside its invocation; it is held there and
  // counted with the invocation's records when it returns, so written never runs ahead.
  const invocation = new AsyncLocalStorage<BatchSummary[]>();
  const count = (batch: BatchSummary) => {
    totals.written += batch.written;
    totals.duplicates += batch.duplicates;
    totals.deadLettered += batch.deadLettered;
    for (const [reason, n] of Object.entries(batch.rejectedByReason)) {
      rejectedByReason[reason] = (rejectedByReason[reason] ?? 0) + n;
    }
  };
  // Installed until the services stop: handler instances log until their pools close.
  const restore = captureHandlerLogs((batch) => {
    const held = invocation.getStore();
    if (held) held.push(batch);
    else count(batch);
  }, options.onLog);
  const modules: BundleModule<unknown>[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      unregister();
      try {
        // Pools end before their server stops, so no connection is dropped under them; a
        // pool whose client waits on the database (Ctrl-C mid-batch) is not waited for long.
        await closeWithin(POOL_CLOSE_MS, modules.splice(0));
        await started.stop();
      } finally {
        restore();
      }
    })();
    return stopped;
  };
  // Ctrl-C (runCleanups) stops them too, in any phase, and once they are handed back.
  const unregister = onCleanup(stop);
  const services = {
    ...started,
    handlerDatabaseUrl: started.databaseUrl,
    stop,
  } satisfies RunServices;
  try {
    await buildBundles();
    const sqs = sqsClient(services.sqsEndpoint);
    const env: FunctionEnvironment = {
      ...localAwsEnv(services.sqsEndpoint, services.secretsEndpoint),
      [Env.DATABASE_URL]: services.databaseUrl,
      [Env.MASKING_SECRET_ID]: services.maskingSecretId,
      [Env.DLQ_URL]: services.dlqUrl,
      [Env.SOURCE_QUEUE_URL]: services.queueUrl,
      // Local queues redeliver within seconds; the function's defaults are for hours.
      [Env.BACKOFF_BASE_SECONDS]: String(options.backoff?.baseSeconds ?? 1),
      [Env.BACKOFF_MAX_SECONDS]: String(options.backoff?.maxSeconds ?? 30),
      [Env.RECOVERY_PUBLIC_KEY]: services.recoveryPublicKey,
      [LibraryEnv.POWERTOOLS_METRICS_DISABLED]: 'true',
      [LibraryEnv.POWERTOOLS_LOG_LEVEL]: process.env[LibraryEnv.POWERTOOLS_LOG_LEVEL] ?? 'INFO',
    };
    // The migration function of the same bundle set that deploys (a CDK trigger in AWS), as
    // the admin; then the handler as the function's own role where this run owns the server.
    const migration = loadBundleModule<(event: unknown, context: unknown) => Promise<unknown>>(
      env,
      'migrate',
    );
    modules.push(migration);
    await migration.handler({}, localContext());
    if (services.postgres !== undefined) {
      services.handlerDatabaseUrl = await services.postgres.loginAs(WRITER_ROLE);
    }
    env[Env.DATABASE_URL] = services.handlerDatabaseUrl;
    // Said before any row is written with this run's keys, while stopping still helps.
    const rowsOnOtherKeys = await rowsOnKeysOtherThan(services.databaseUrl, services.maskingKeyIds);
    if (Object.keys(rowsOnOtherKeys).length > 0) {
      options.onNotice?.(otherKeysWarning(services.keysFile, rowsOnOtherKeys));
    }

    let outage: Outage | undefined;
    const report = (phase: Progress['phase'], done: number, total: number, since: number) =>
      options.onProgress?.({
        phase,
        done,
        total,
        elapsedMs: performance.now() - since,
        ...totals,
        ...(outage && {
          outage: {
            service: outage.service,
            reason: outage.reason,
            seconds: (Date.now() - outage.since) / 1000,
          },
        }),
      });
    const sent = options.messages;
    if (sent > 0) {
      const sendStarted = performance.now();
      report('sending', 0, sent, sendStarted);
      await send(
        sqs,
        services.queueUrl,
        generateBodies(sent, { seed: options.seed ?? Date.now() }),
        (n) => report('sending', n, sent, sendStarted),
      );
    }

    const queueArn = await queueArnOf(sqs, services.sqsEndpoint, services.queueUrl);
    // Ids of this run's records that may be in the DLQ because of it: those the handler
    // dead-lettered (its batch summary names them) and failed ones (the redrive policy after
    // maxReceiveCount). Not every id: a set of a million would cost a hundred megabytes.
    const mayBeDeadLettered = new Set<string>();
    const noteMayBeDeadLettered = (
      records: readonly SQSRecord[],
      held: readonly BatchSummary[],
      failed: ReadonlySet<string> | undefined,
    ) => {
      const sent = new Set(held.flatMap((batch) => batch.deadLetteredIds));
      // Failed whole (threw), or no summary read (a log level above INFO): any record may be there.
      const all = failed === undefined || held.length === 0;
      const note = (record: SQSRecord) => {
        mayBeDeadLettered.add(record.messageId);
        // A redriven message is dead-lettered again under the id it was first sent under
        // when its marker verifies (the handler checks; this only counts).
        const first = record.messageAttributes?.[MarkerAttribute.SourceMessageId]?.stringValue;
        if (first) mayBeDeadLettered.add(first);
      };
      for (const record of records) {
        if (all || sent.has(record.messageId) || failed?.has(record.messageId)) note(record);
      }
    };
    const handlers = Array.from({ length: options.concurrency }, () => {
      const module = loadBundleModule(env);
      modules.push(module);
      return async (event: Parameters<SqsHandler>[0]) => {
        const held: BatchSummary[] = [];
        let failed: ReadonlySet<string> | undefined;
        try {
          const response = await invocation.run(held, () => module.handler(event, localContext()));
          failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
          return response;
        } finally {
          totals.delivered += event.Records.length;
          for (const batch of held) count(batch);
          noteMayBeDeadLettered(event.Records, held, failed);
        }
      };
    });

    const total = await queueDepth(sqs, services.queueUrl);
    let remaining = total;
    const drainStarted = performance.now();
    // Done: gone from the queue, or handled and being deleted (in flight still counts as left).
    const drained = () =>
      report(
        'draining',
        Math.min(total, Math.max(total - remaining, totals.delivered - totals.retried)),
        total,
        drainStarted,
      );
    drained();
    // The queue's depth says how much is left (redeliveries and redrives included).
    const ticker = setInterval(() => {
      queueDepth(sqs, services.queueUrl).then(
        (depth) => {
          remaining = depth;
          drained();
        },
        () => {},
      );
    }, 1000);
    let lastNotice = 0;
    try {
      await runEventSource({
        sqs,
        queueUrl: services.queueUrl,
        queueArn,
        batchSize: options.batchSize,
        handlers,
        // A configuration error will not heal by waiting: end the run and name it.
        isFatal: (error) => error instanceof ConfigError,
        sqsTimeoutMs: options.sqsTimeoutMs ?? SQS_TIMEOUT_MS,
        onSqsRetry: (what, error, timeoutMs) => {
          if (Date.now() - lastNotice < 5_000) return;
          lastNotice = Date.now();
          options.onNotice?.(
            `SQS ${what} failed (${(error as Error | undefined)?.message ?? error}); retrying for up to ${Math.round(timeoutMs / 1000)} s`,
          );
        },
        onBatch: (batch) => {
          totals.retried += batch.failed;
          totals.batches++;
          drained();
        },
        probe: dependencyProbe({
          databaseUrl: services.handlerDatabaseUrl,
          secretsEndpoint: services.secretsEndpoint,
          maskingSecretId: services.maskingSecretId,
        }),
        outageLimitMs: options.outageLimitMs ?? OUTAGE_LIMIT_MS,
        onOutage: (now) => {
          outage = now;
          drained();
        },
      });
    } catch (error) {
      if (!(error instanceof OutageError)) throw error;
      throw await outageFailure(error, () => queueDepth(sqs, services.queueUrl));
    } finally {
      clearInterval(ticker);
    }
    remaining = 0;
    drained();
    const seconds = (performance.now() - drainStarted) / 1000;
    const [deadLetterQueue, facts] = await Promise.all([
      peekDeadLetters(sqs, services.dlqUrl),
      tableFacts(services.databaseUrl),
    ]);
    return {
      services,
      summary: {
        sent,
        ...totals,
        rejectedByReason,
        deadLetterQueue,
        ownDeadLetters: deadLettersAmong(deadLetterQueue, mayBeDeadLettered),
        rows: facts.rows,
        repeatedIps: facts.ips,
        repeatedDevices: facts.devices,
        rowsOnOtherKeys,
        seconds,
        messagesPerSecond: (totals.delivered - totals.retried) / seconds,
      },
    };
  } catch (error) {
    await services.stop();
    throw error;
  }
}

/** The one line that ends a run whose database (or key source) stayed down past the limit. */
async function outageFailure(error: OutageError, depth: () => Promise<number>) {
  const waiting = await depth().then(
    (n) => `${n.toLocaleString('en-US')} messages wait in the queue`,
    () => 'the messages wait in the queue',
  );
  const minutes = (s: number) =>
    s < 120 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return new UnreachableError(
    `${error.outage.service} did not answer for ${minutes(error.seconds)} (the outage limit is ${minutes(error.limitMs / 1000)}): ${error.outage.reason}; ${waiting}, none dead-lettered for the outage`,
    { cause: error },
  );
}
