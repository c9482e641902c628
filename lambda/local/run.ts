/**
 * The whole pipeline on one machine: PostgreSQL, SQS and Secrets Manager (embedded unless
 * given), the shipped handler bundle behind a local event source mapping, and a summary.
 * `npm start` is a thin CLI over `runLocal`; the tests call it directly.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import pg from 'pg';
import { buildBundles } from '../../infra/build';
import type { BatchSummary } from '../batch';
import { WRITER_ROLE } from '../db/roles';
import { type DeadLetterPeek, peekDeadLetters } from '../ops/dead-letters';
import { generateRecoveryKeyPair } from '../recovery';
import { localAwsEnv, randomMaskingSecret, startLocalAws } from './aws';
import { loadBundle, localContext } from './bundle';
import { queueDepth, runEventSource, SQS_TIMEOUT_MS } from './event-source';
import { generateBodies } from './generate';
import { type LocalPostgres, startLocalPostgres } from './postgres';
import { startLocalSecretsManager } from './secrets-manager';

export interface RunOptions {
  /** Generated messages to send first; 0 drains what is already in the queue. */
  readonly messages: number;
  /** Seed of the generated messages (default: the clock). */
  readonly seed?: number;
  readonly batchSize: number;
  /** Parallel pollers, each with its own handler instance ("container"). */
  readonly concurrency: number;
  /** An existing SQS endpoint (e.g. LocalStack, http://localhost:4566); embedded when absent. */
  readonly sqsEndpoint?: string;
  /** The source queue at that endpoint; default <endpoint>/000000000000/login-queue. */
  readonly queueUrl?: string;
  /** DLQ for invalid messages; with an existing endpoint, default "<queue>-dlq" (created). */
  readonly dlqUrl?: string;
  /** An existing PostgreSQL; embedded when absent. */
  readonly databaseUrl?: string;
  /** The masking secret's JSON (key ring format); a random local key when absent. */
  readonly maskingSecret?: string;
  /** Embedded queue settings. */
  readonly visibilityTimeout?: number;
  readonly maxReceiveCount?: number;
  /** Backoff of records whose batch failed for a systemic reason; default 1 s doubling x5 to 30 s. */
  readonly backoff?: { readonly baseSeconds: number; readonly maxSeconds: number };
  /** How long SQS may stay unreachable before the run fails, ms (default 60 s). */
  readonly sqsTimeoutMs?: number;
  /** One-line notices for the operator (SQS retries). */
  readonly onNotice?: (line: string) => void;
  /** Handler log lines (JSON), e.g. for --verbose. */
  readonly onLog?: (line: string) => void;
  readonly onProgress?: (progress: Progress) => void;
}

export interface Progress {
  readonly delivered: number;
  readonly written: number;
  readonly deadLettered: number;
  readonly retried: number;
  readonly batches: number;
}

export interface RunSummary extends Progress {
  readonly sent: number;
  readonly duplicates: number;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  readonly deadLetterQueue: DeadLetterPeek;
  readonly rows: number;
  readonly repeatedIps: number;
  readonly repeatedDevices: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
}

export interface Services {
  /** Inline rings for the operator commands (MASKING_SECRET, RECOVERY_SECRET). */
  readonly maskingSecret: string;
  readonly recoverySecret: string;
  /** The database as its admin (migrations, queries, operator commands). */
  readonly databaseUrl: string;
  /**
   * What the handler logs in with: the function's role on the embedded server; the given
   * URL as it is on an existing one (its user, whatever that may do).
   */
  readonly handlerDatabaseUrl: string;
  readonly sqsEndpoint: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly secretsEndpoint: string;
  readonly maskingSecretId: string;
  /** RECOVERY_PUBLIC_KEY given to the handler (a fresh local recovery key pair). */
  readonly recoveryPublicKey: string;
  stop(): Promise<void>;
}

function sqsClient(endpoint: string): SQSClient {
  return new SQSClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'local',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    },
    useQueueUrlAsEndpoint: false,
  });
}

/** Services before migration; the embedded server, if any, makes the function's login. */
type StartedServices = Omit<Services, 'handlerDatabaseUrl'> & { readonly postgres?: LocalPostgres };

async function startServices(options: RunOptions): Promise<StartedServices> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn();
  };
  try {
    let databaseUrl = options.databaseUrl;
    let postgres: LocalPostgres | undefined;
    if (databaseUrl === undefined) {
      const started = await startLocalPostgres();
      stops.push(() => started.stop());
      postgres = started;
      databaseUrl = started.url;
    }
    const secret = options.maskingSecret ?? randomMaskingSecret();
    const recovery = generateRecoveryKeyPair('local');
    const rings = {
      maskingSecret: secret,
      recoverySecret: recovery.secret,
      recoveryPublicKey: recovery.publicKey,
    };
    if (options.sqsEndpoint === undefined) {
      const aws = await startLocalAws({
        maskingSecret: secret,
        visibilityTimeout: options.visibilityTimeout ?? 2,
        maxReceiveCount: options.maxReceiveCount ?? 3,
      });
      stops.push(() => aws.stop());
      return {
        ...rings,
        postgres,
        databaseUrl,
        sqsEndpoint: aws.sqsEndpoint,
        queueUrl: aws.queueUrl,
        dlqUrl: aws.dlqUrl,
        secretsEndpoint: aws.secretsManager.endpoint,
        maskingSecretId: aws.maskingSecretArn,
        stop,
      };
    }
    const endpoint = options.sqsEndpoint.replace(/\/$/, '');
    const secrets = await startLocalSecretsManager();
    stops.push(() => secrets.stop());
    const queueUrl = options.queueUrl ?? `${endpoint}/000000000000/login-queue`;
    let dlqUrl = options.dlqUrl;
    if (dlqUrl === undefined) {
      const name = `${queueUrl.split('/').pop()}-dlq`;
      const created = await sqsClient(endpoint).send(new CreateQueueCommand({ QueueName: name }));
      dlqUrl = created.QueueUrl ?? `${endpoint}/000000000000/${name}`;
    }
    return {
      ...rings,
      postgres,
      databaseUrl,
      sqsEndpoint: endpoint,
      queueUrl,
      dlqUrl,
      secretsEndpoint: secrets.endpoint,
      maskingSecretId: secrets.put('login-queue/masking-key', secret),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function send(sqs: SQSClient, queueUrl: string, bodies: readonly string[]): Promise<void> {
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
  const client = new pg.Client(databaseUrl);
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

/** Runs the pipeline; resolves to the summary and the (still running) services. */
export async function runLocal(
  options: RunOptions,
): Promise<{ summary: RunSummary; services: Services }> {
  await buildBundles();
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
  // Installed until the services stop: handler instances log until their pools close.
  const restore = captureHandlerLogs((batch) => {
    totals.written += batch.written;
    totals.duplicates += batch.duplicates;
    totals.deadLettered += batch.deadLettered;
    for (const [reason, n] of Object.entries(batch.rejectedByReason)) {
      rejectedByReason[reason] = (rejectedByReason[reason] ?? 0) + n;
    }
  }, options.onLog);
  const { postgres, ...rest } = started;
  const services = {
    ...rest,
    handlerDatabaseUrl: rest.databaseUrl,
    async stop() {
      await started.stop();
      restore();
    },
  } satisfies Services;
  try {
    const sqs = sqsClient(services.sqsEndpoint);
    const env = {
      ...localAwsEnv(services.sqsEndpoint, services.secretsEndpoint),
      DATABASE_URL: services.databaseUrl,
      MASKING_SECRET_ID: services.maskingSecretId,
      DLQ_URL: services.dlqUrl,
      SOURCE_QUEUE_URL: services.queueUrl,
      // Local queues redeliver within seconds; the function's defaults are for hours.
      BACKOFF_BASE_SECONDS: String(options.backoff?.baseSeconds ?? 1),
      BACKOFF_MAX_SECONDS: String(options.backoff?.maxSeconds ?? 30),
      RECOVERY_PUBLIC_KEY: services.recoveryPublicKey,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    };
    // The migration function of the same bundle set that deploys (a CDK trigger in AWS), as
    // the admin; then the handler as the function's own role where this run owns the server.
    await loadBundle<(event: unknown, context: unknown) => Promise<unknown>>(env, 'migrate')(
      {},
      localContext(),
    );
    if (postgres !== undefined) services.handlerDatabaseUrl = await postgres.loginAs(WRITER_ROLE);
    env.DATABASE_URL = services.handlerDatabaseUrl;

    const sent = options.messages;
    if (sent > 0)
      await send(
        sqs,
        services.queueUrl,
        generateBodies(sent, { seed: options.seed ?? Date.now() }),
      );

    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: services.queueUrl, AttributeNames: ['QueueArn'] }),
    );
    const queueArn =
      Attributes?.QueueArn ??
      `arn:aws:sqs:us-east-1:000000000000:${services.queueUrl.split('/').pop()}`;
    const handlers = Array.from({ length: options.concurrency }, () => {
      const handler = loadBundle(env);
      return (event: Parameters<typeof handler>[0]) => handler(event, localContext());
    });

    const drainStarted = performance.now();
    let lastNotice = 0;
    await runEventSource({
      sqs,
      queueUrl: services.queueUrl,
      queueArn,
      batchSize: options.batchSize,
      handlers,
      // A configuration error will not heal by waiting: end the run and name it.
      isFatal: (error) => (error as Error | undefined)?.name === 'ConfigError',
      sqsTimeoutMs: options.sqsTimeoutMs ?? SQS_TIMEOUT_MS,
      onSqsRetry: (what, error, timeoutMs) => {
        if (Date.now() - lastNotice < 5_000) return;
        lastNotice = Date.now();
        options.onNotice?.(
          `SQS ${what} failed (${(error as Error | undefined)?.message ?? error}); retrying for up to ${Math.round(timeoutMs / 1000)} s`,
        );
      },
      onBatch: (batch) => {
        totals.delivered += batch.records;
        totals.retried += batch.failed;
        totals.batches++;
        options.onProgress?.({ ...totals });
      },
    });
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
        rows: facts.rows,
        repeatedIps: facts.ips,
        repeatedDevices: facts.devices,
        seconds,
        messagesPerSecond: (totals.delivered - totals.retried) / seconds,
      },
    };
  } catch (error) {
    await services.stop();
    throw error;
  }
}

/** Depth of a queue, for progress displays. */
export { queueDepth };
