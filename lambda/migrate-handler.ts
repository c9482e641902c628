/**
 * Lambda entry point that applies the schema migrations; the CDK stack runs it as a
 * deploy-time trigger, so the schema exists before the first message arrives.
 * Throws on failure, which fails the deployment.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadDatabaseConfig } from './config';
import { migrate } from './db/migrate';
import { endPool } from './db/pool';
import { createDatabasePool } from './runtime';
import { createLogger } from './telemetry';

const logger = createLogger();
const pool = createDatabasePool(loadDatabaseConfig(), {
  queryTimeoutMs: 120_000,
  secretTtlMs: 0,
  logger,
  secrets: new SecretsManagerClient({}),
});

export const handler = async (): Promise<{ applied: readonly number[]; current: number }> => {
  const result = await migrate(pool);
  logger.info('schema migrated', { ...result });
  return result;
};

/** Ends the database pool. Lambda never calls it; local runs do before stopping their database. */
export const close = (): Promise<void> => endPool(pool);
