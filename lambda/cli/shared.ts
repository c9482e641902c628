/**
 * Shared plumbing of the operator commands (unmask, rekey, dlq, redrive): where secrets, the
 * database and SQS come from, each checked before use. Flags win over environment.
 */
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Pool } from 'pg';
import { getSecretString } from '../aws/secrets';
import { createSqsClient } from '../aws/sqs-client';
import { createLogger } from '../aws/telemetry';
import { UnreachableError, UsageError } from '../core/errors';
import { type KeyRing, parseKeyRing } from '../core/key-ring';
import { reasonOf } from '../core/reason';
import { parseRecoveryRing } from '../core/recovery';
import { databaseAddress } from '../db/database-config';
import { checkDatabase } from '../db/ping';
import { loadDatabaseConfig, loadTelemetryConfig } from '../functions/config';
import { createDatabasePool } from '../functions/runtime';
import { databaseUrlFlag } from './flags';
import { readKeysFile } from './keys-file';

/**
 * A secret given inline (JSON, for local runs) or by Secrets Manager id/ARN. Throws
 * UsageError when neither is given, UnreachableError naming the secret when it cannot be read.
 */
export async function readSecret(
  inline: string | undefined,
  id: string | undefined,
  what: string,
): Promise<string> {
  if (inline) return inline;
  if (!id)
    throw new UsageError(`${what} is needed: --keys-file (local runs) or its Secrets Manager id`);
  try {
    return await getSecretString(secretsClient(), id);
  } catch (error) {
    const endpoint = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER ?? process.env.AWS_REGION ?? '';
    throw new UnreachableError(
      `Secrets Manager${endpoint ? ` at ${endpoint}` : ''}: secret ${id}: ${reasonOf((error as Error).cause ?? error)}`,
      { cause: error },
    );
  }
}

/** Where the operator commands find keys: a local keys file, or secret ids (AWS). */
export interface KeySources {
  /** --keys-file / KEYS_FILE: the file `npm start` wrote (local runs). */
  readonly keysFile?: string;
  readonly maskingSecretId?: string;
  readonly recoverySecretId?: string;
}

function keysOf(sources: KeySources) {
  if (sources.keysFile === undefined) return undefined;
  if (!existsSync(sources.keysFile))
    throw new UsageError(`--keys-file ${sources.keysFile} does not exist`);
  return readKeysFile(sources.keysFile);
}

/** The masking key ring: from the keys file, MASKING_SECRET inline, or by secret id. */
export async function readMaskingRing(sources: KeySources): Promise<KeyRing> {
  const inline = keysOf(sources)?.maskingSecret ?? process.env.MASKING_SECRET;
  return parseKeyRing(await readSecret(inline, sources.maskingSecretId, 'the masking key ring'));
}

/** The recovery private key ring: from the keys file, RECOVERY_SECRET inline, or by secret id. */
export async function readRecoveryRing(
  sources: KeySources,
): Promise<ReadonlyMap<string, KeyObject>> {
  const inline = keysOf(sources)?.recoverySecret ?? process.env.RECOVERY_SECRET;
  return parseRecoveryRing(
    await readSecret(inline, sources.recoverySecretId, 'the recovery key ring'),
  );
}

/**
 * A pool from --database-url, DATABASE_URL, or the DB_* variables the function uses, checked
 * with one query. Throws UsageError for a malformed URL (naming `source`, where it came from)
 * or none at all, UnreachableError naming the address.
 */
export async function connectDatabase(url: string | undefined, source?: string): Promise<Pool> {
  const checked = databaseUrlFlag(url, source);
  // No database named at all is a usage mistake (exit 2), not a failure of one.
  if (checked === undefined && !process.env.DB_HOST?.trim())
    throw new UsageError(
      'a database is needed: --database-url (or DATABASE_URL, or DB_HOST with DB_NAME, DB_USER and DB_PASSWORD_SECRET_ID)',
    );
  const database = checked ? ({ kind: 'url', url: checked } as const) : loadDatabaseConfig();
  const pool = createDatabasePool(database, {
    queryTimeoutMs: 300_000,
    secretTtlMs: 0,
    logger: createLogger(loadTelemetryConfig()),
    secrets: secretsClient(),
  });
  try {
    await checkDatabase(pool, databaseAddress(database));
  } catch (error) {
    await pool.end();
    throw error;
  }
  return pool;
}

/** An SQS client for --sqs-endpoint / AWS_ENDPOINT_URL_SQS, else the region's endpoint. */
export function sqsClientFor(endpoint: string | undefined): SQSClient {
  return createSqsClient({
    ...(endpoint ? { endpoint } : {}),
    ...localEndpointDefaults(endpoint ?? process.env.AWS_ENDPOINT_URL_SQS),
  });
}

/** A Secrets Manager client (AWS_ENDPOINT_URL_SECRETS_MANAGER when set, as the SDK reads it). */
function secretsClient(): SecretsManagerClient {
  return new SecretsManagerClient(
    localEndpointDefaults(process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER),
  );
}

/**
 * Client settings for an endpoint on this machine (npm start's, LocalStack's): a region and
 * dummy credentials where the environment sets none, as npm start's own clients use (an
 * emulator checks no signature, and the SDK would otherwise stop at "Region is missing", then
 * "Could not load credentials"). Nothing for other endpoints: the SDK's own chain applies.
 */
export function localEndpointDefaults(
  endpoint: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { region?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } {
  if (endpoint === undefined || !isLoopback(endpoint)) return {};
  return {
    ...(env.AWS_REGION || env.AWS_DEFAULT_REGION ? {} : { region: 'us-east-1' }),
    ...(env.AWS_ACCESS_KEY_ID
      ? {}
      : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  };
}

function isLoopback(endpoint: string): boolean {
  if (!URL.canParse(endpoint)) return false;
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  return (
    host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1'
  );
}

/** How an SQS endpoint is named in messages: the URL, or the region's. */
export function sqsEndpointLabel(endpoint: string | undefined): string {
  return endpoint ?? `the ${process.env.AWS_REGION ?? 'default'} region's endpoint`;
}

/**
 * A dry run's answer from the operations function. Throws when the answer is not a preview: a
 * function deployed before dry runs ignores `dryRun` and has done the command for real.
 */
export function previewAnswer<T extends object>(answer: T, command: string): T {
  if ((answer as { dryRun?: unknown }).dryRun === true) return answer;
  throw new Error(
    `the operations function ran ${command} for real, not as a dry run: it predates --dry-run (deploy this version); its answer: ${JSON.stringify(answer)}`,
  );
}
