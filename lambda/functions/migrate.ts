/**
 * Lambda entry point that applies the schema migrations; the CDK stack runs it as a
 * deploy-time trigger, so the schema exists before the first message arrives, and daily on a
 * schedule for partition upkeep and retention (db/maintain.ts). It logs in with
 * the master credentials, read from their secret for every connection. Throws on failure,
 * which fails the deployment.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createLogger, publishMaintenance } from '../aws/telemetry';
import { type MaintainResult, maintain } from '../db/maintain';
import { type LoginRetry, migrate, retryRefusedLogin } from '../db/migrate';
import { endPool } from '../db/pool';
import { loadDatabaseConfig, loadMaintenanceConfig, loadTelemetryConfig } from './config';
import { createDatabasePool } from './runtime';

const telemetry = loadTelemetryConfig();
const logger = createLogger(telemetry);
const pool = createDatabasePool(loadDatabaseConfig(), {
  queryTimeoutMs: 120_000,
  secretTtlMs: 0,
  logger,
  secrets: new SecretsManagerClient({}),
});

// A refused login is retried for about 90 s (1, 2, 4, 8, 16, 30, 30 s apart): longer than a
// rotation's window between changing the password and publishing it, well within the
// function's 5-minute timeout.
const RETRY: LoginRetry = {
  attempts: 8,
  firstDelayMs: 1_000,
  maxDelayMs: 30_000,
  onRetry: (attempt, delayMs, error) =>
    logger.warn('database refused the login; reading the secret again', {
      attempt,
      delayMs,
      code: (error as { code?: string }).code,
    }),
};

/**
 * Migrates, then maintains the partitions (db/maintain.ts): at deploy time (the trigger) and
 * daily (the schedule). A failure throws before MaintenanceSucceeded is published, so the
 * alarm on its absence fires; at deploy time it fails the deployment.
 */
export const handler = async (): Promise<{
  readonly migrated: { readonly applied: readonly number[]; readonly current: number };
  readonly maintained: MaintainResult;
}> => {
  const migrated = await retryRefusedLogin(() => migrate(pool), RETRY);
  logger.info('schema migrated', { ...migrated });
  const maintained = await maintain(pool, loadMaintenanceConfig());
  logger.info('partitions maintained', { ...maintained });
  publishMaintenance(telemetry, maintained);
  return { migrated, maintained };
};

/** Ends the database pool. Lambda never calls it; local runs do before stopping their database. */
export const close = (): Promise<void> => endPool(pool);
