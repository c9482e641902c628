/**
 * Shared plumbing of the operator commands (unmask, rekey, dlq, redrive): where secrets, the
 * database and SQS come from. Flags win over environment.
 */
import type { KeyObject } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Pool } from 'pg';
import { loadDatabaseConfig } from '../config';
import { parseRecoveryRing } from '../recovery';
import { createDatabasePool } from '../runtime';
import { getSecretString } from '../secrets';
import { createLogger } from '../telemetry';

/** A secret given inline (JSON, for local runs) or by Secrets Manager id/ARN. */
export async function readSecret(
  inline: string | undefined,
  id: string | undefined,
  what: string,
): Promise<string> {
  if (inline) return inline;
  if (id) return getSecretString(new SecretsManagerClient({}), id);
  throw new Error(`${what} is needed: pass it inline (JSON) or by Secrets Manager id`);
}

/** The recovery private key ring: RECOVERY_SECRET inline (local runs), else by secret id. */
export async function readRecoveryRing(
  secretId: string | undefined,
): Promise<ReadonlyMap<string, KeyObject>> {
  return parseRecoveryRing(
    await readSecret(process.env.RECOVERY_SECRET, secretId, 'the recovery key ring'),
  );
}

/** A pool from --database-url, DATABASE_URL, or the DB_* variables the function uses. */
export function databasePool(url: string | undefined): Pool {
  const database = url ? ({ kind: 'url', url } as const) : loadDatabaseConfig();
  return createDatabasePool(database, {
    queryTimeoutMs: 300_000,
    secretTtlMs: 0,
    logger: createLogger(),
    secrets: new SecretsManagerClient({}),
  });
}

/** An SQS client for --sqs-endpoint / AWS_ENDPOINT_URL_SQS, else the region's endpoint. */
export function sqsClientFor(endpoint: string | undefined): SQSClient {
  return new SQSClient({ ...(endpoint ? { endpoint } : {}), useQueueUrlAsEndpoint: false });
}
