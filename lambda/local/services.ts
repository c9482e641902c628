/**
 * The services `npm start` runs against: embedded ones started here, or existing ones found
 * and checked before anything is changed (the queue by name, the database with one query),
 * plus the keys: a keys file read, created, or temporary.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { queueArnOf, resolveQueueUrl, sqsCall } from '../aws/queues';
import { createSqsClient } from '../aws/sqs-client';
import {
  generateLocalKeys,
  type LocalKeys,
  loadOrCreateKeysFile,
  writeKeysFile,
} from '../cli/keys-file';
import { databaseAddress } from '../db/database-config';
import { checkDatabase } from '../db/ping';
import { handleConnectionErrors } from '../db/pool';
import { localAwsEnv, startLocalAws } from './aws';
import { onCleanup } from './cleanup';
import { type LocalPostgres, startLocalPostgres } from './postgres';
import { startLocalSecretsManager } from './secrets-manager';

export interface ServiceOptions {
  /** An existing SQS endpoint (e.g. LocalStack, http://localhost:4566); embedded when absent. */
  readonly sqsEndpoint?: string;
  /** The source queue at that endpoint; default: the URL of `queueName` there (GetQueueUrl). */
  readonly queueUrl?: string;
  /** The source queue's name at an existing endpoint, default "login-queue". */
  readonly queueName?: string;
  /** DLQ for invalid messages; with an existing endpoint, default "<queue>-dlq" (created). */
  readonly dlqUrl?: string;
  /** An existing PostgreSQL; embedded when absent. */
  readonly databaseUrl?: string;
  /**
   * A keys file (masking ring, recovery key pair): read when it exists, else generated and
   * written there (mode 600). Absent: fresh keys in a temporary file removed at stop.
   */
  readonly keysFile?: string;
  /** Embedded queue settings. */
  readonly visibilityTimeout?: number;
  readonly maxReceiveCount?: number;
}

export interface Services {
  /** The keys file (KEYS_FILE for the operator commands). */
  readonly keysFile: string;
  /** True when this run generated the keys file. */
  readonly keysCreated: boolean;
  /** The database as its admin (migrations, queries, operator commands). */
  readonly databaseUrl: string;
  /** The embedded server, when this run started one (it can make the function's login). */
  readonly postgres?: LocalPostgres;
  readonly sqsEndpoint: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly secretsEndpoint: string;
  readonly maskingSecretId: string;
  /** Key ids of the masking ring this run uses. */
  readonly maskingKeyIds: readonly string[];
  /** RECOVERY_PUBLIC_KEY given to the handler. */
  readonly recoveryPublicKey: string;
  /** What an AWS SDK client needs to reach this SQS endpoint (region, endpoint, local credentials). */
  readonly awsEnv: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/** An SQS client for a local or given endpoint (local credentials unless set). */
export function sqsClient(endpoint: string): SQSClient {
  return createSqsClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'local',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    },
  });
}

/** The keys file to use: the given one (read or created), or a temporary one. */
async function keysFor(
  options: ServiceOptions,
  stops: (() => Promise<void>)[],
): Promise<{ keys: LocalKeys; keysFile: string; keysCreated: boolean }> {
  if (options.keysFile !== undefined) {
    const { keys, created } = loadOrCreateKeysFile(options.keysFile);
    return { keys, keysFile: options.keysFile, keysCreated: created };
  }
  const dir = await mkdtemp(join(tmpdir(), 'login-queue-keys-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  const unregister = onCleanup(remove);
  stops.push(() => {
    unregister();
    return remove();
  });
  const keysFile = join(dir, 'keys.json');
  const keys = generateLocalKeys();
  writeKeysFile(keysFile, keys);
  return { keys, keysFile, keysCreated: true };
}

/** SDK settings for the operator commands: local credentials only where none are set. */
function operatorAwsEnv(sqsEndpoint: string): Record<string, string> {
  const local = localAwsEnv(sqsEndpoint, '');
  const hasCredentials = process.env.AWS_ACCESS_KEY_ID !== undefined;
  return {
    AWS_REGION: process.env.AWS_REGION ?? local.AWS_REGION ?? 'us-east-1',
    ...(hasCredentials
      ? {}
      : {
          AWS_ACCESS_KEY_ID: local.AWS_ACCESS_KEY_ID ?? 'local',
          AWS_SECRET_ACCESS_KEY: local.AWS_SECRET_ACCESS_KEY ?? 'local',
        }),
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
  };
}

/**
 * Checks what exists before changing anything: the database (given) and the queue (given or
 * found by name). Throws UnreachableError naming the address that failed.
 */
async function preflight(
  options: ServiceOptions,
): Promise<{ endpoint: string; queueUrl: string; queueArn: string } | undefined> {
  if (options.databaseUrl !== undefined) {
    const pool = handleConnectionErrors(
      new pg.Pool({ connectionString: options.databaseUrl, max: 1 }),
    );
    try {
      await checkDatabase(pool, databaseAddress({ kind: 'url', url: options.databaseUrl }));
    } finally {
      await pool.end();
    }
  }
  if (options.sqsEndpoint === undefined) return undefined;
  const endpoint = options.sqsEndpoint.replace(/\/$/, '');
  const sqs = sqsClient(endpoint);
  const queueUrl =
    options.queueUrl ?? (await resolveQueueUrl(sqs, endpoint, options.queueName ?? 'login-queue'));
  const queueArn = await queueArnOf(sqs, endpoint, queueUrl);
  if (options.dlqUrl !== undefined) await queueArnOf(sqs, endpoint, options.dlqUrl);
  return { endpoint, queueUrl, queueArn };
}

/**
 * Checks the given services, then starts what is missing. Throws UnreachableError naming the
 * address that failed, before any change.
 */
export async function startServices(options: ServiceOptions): Promise<Services> {
  const existing = await preflight(options);
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
    const { keys, keysFile, keysCreated } = await keysFor(options, stops);
    const common = {
      keysFile,
      keysCreated,
      recoveryPublicKey: keys.recoveryPublicKey,
      maskingKeyIds: Object.keys(JSON.parse(keys.maskingSecret)).filter((id) => id !== 'current'),
      databaseUrl,
      postgres,
      stop,
    };
    if (existing === undefined) {
      const aws = await startLocalAws({
        maskingSecret: keys.maskingSecret,
        visibilityTimeout: options.visibilityTimeout ?? 2,
        maxReceiveCount: options.maxReceiveCount ?? 3,
      });
      stops.push(() => aws.stop());
      return {
        ...common,
        sqsEndpoint: aws.sqsEndpoint,
        queueUrl: aws.queueUrl,
        dlqUrl: aws.dlqUrl,
        secretsEndpoint: aws.secretsManager.endpoint,
        maskingSecretId: aws.maskingSecretArn,
        awsEnv: operatorAwsEnv(aws.sqsEndpoint),
      };
    }
    const { endpoint, queueUrl } = existing;
    const secrets = await startLocalSecretsManager();
    stops.push(() => secrets.stop());
    let dlqUrl = options.dlqUrl;
    if (dlqUrl === undefined) {
      const name = `${queueUrl.split('/').pop()}-dlq`;
      dlqUrl = await sqsCall(endpoint, `creating queue "${name}"`, async () => {
        const created = await sqsClient(endpoint).send(new CreateQueueCommand({ QueueName: name }));
        return created.QueueUrl ?? `${endpoint}/000000000000/${name}`;
      });
    }
    return {
      ...common,
      sqsEndpoint: endpoint,
      queueUrl,
      dlqUrl,
      secretsEndpoint: secrets.endpoint,
      maskingSecretId: secrets.put('login-queue/masking-key', keys.maskingSecret),
      awsEnv: operatorAwsEnv(endpoint),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
