/**
 * Wires the production dependencies (AWS SDK clients, pg pool, Powertools) from a Config.
 * Called once per container, at module scope of a handler.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createSqsDeadLetterQueue } from '../aws/dead-letter-queue';
import { cached, getSecretString } from '../aws/secrets';
import { createSqsSourceQueue } from '../aws/source-queue';
import { createSqsClient } from '../aws/sqs-client';
import { createLogger, createMetricsPublisher, type TelemetryConfig } from '../aws/telemetry';
import { parseKeyRing } from '../core/key-ring';
import { parseRecoveryPublicKey } from '../core/recovery';
import { type DatabaseCredential, iamCredential, secretCredential } from '../db/credentials';
import { createPool } from '../db/pool';
import { createLoginStore } from '../db/store';
import { createBatchProcessor } from '../ingest/batch';
import type { Config, DatabaseConfig } from './config';

/** An SQS client for the configured endpoint, with timeouts (sqs-client.ts). */
export const sqsClient = () => createSqsClient();

const errorName = (error: unknown) => (error as Error | undefined)?.name;

/** The credential of a database config: none for a URL, an IAM token, or a secret's password. */
function databaseCredential(
  database: DatabaseConfig,
  options: { secretTtlMs: number; logger: Logger; secrets: SecretsManagerClient },
): DatabaseCredential | undefined {
  if (database.kind === 'url') return undefined;
  if (database.kind === 'iam') return iamCredential(database);
  const { logger, secrets } = options;
  return secretCredential(
    cached(
      () => getSecretString(secrets, database.passwordSecretId),
      options.secretTtlMs,
      (error) => logger.warn('using the cached database password', { errorName: errorName(error) }),
    ),
  );
}

/**
 * A pool for the database config. A secret's password is cached for `secretTtlMs` and read
 * again when the server refuses it; an IAM token is signed per connection.
 */
export function createDatabasePool(
  database: DatabaseConfig,
  options: {
    queryTimeoutMs: number;
    secretTtlMs: number;
    logger: Logger;
    secrets: SecretsManagerClient;
  },
) {
  const { logger } = options;
  return createPool({
    database,
    queryTimeoutMs: options.queryTimeoutMs,
    credential: databaseCredential(database, options),
    onError: (error) =>
      logger.warn('idle database connection dropped', {
        errorName: error.name,
        code: (error as { code?: string }).code,
      }),
  });
}

/** Everything the SQS handler needs, built once; logs and metrics under `telemetry`'s names. */
export function createRuntime(config: Config, telemetry: TelemetryConfig) {
  const logger = createLogger(telemetry);
  const secrets = new SecretsManagerClient({});
  const pool = createDatabasePool(config.database, {
    queryTimeoutMs: config.queryTimeoutMs,
    secretTtlMs: config.keyTtlMs,
    logger,
    secrets,
  });
  const keys = cached(
    async () => parseKeyRing(await getSecretString(secrets, config.maskingSecretId)),
    config.keyTtlMs,
    (error) =>
      logger.warn('masking key refresh failed; using the cached key ring', {
        errorName: errorName(error),
      }),
  );
  const sqs = sqsClient();
  const deadLetterUrl = config.deadLetterQueueUrl;
  const deadLetter =
    deadLetterUrl === undefined
      ? undefined
      : createSqsDeadLetterQueue(sqs, deadLetterUrl, {
          // "message" is a key the logger reserves for the line's own text: passed as is,
          // SQS's reason would vanish from the line. (SQS's reasons never quote a body.)
          onFailure: ({ retrying, message, ...failure }) =>
            retrying
              ? logger.warn('dead-letter send failed; retrying', {
                  ...failure,
                  errorMessage: message,
                })
              : logger.error('dead-letter send failed; records will be redelivered', {
                  ...failure,
                  errorMessage: message,
                }),
          onTrimmed: (messageId, dropped) =>
            logger.warn('dead-letter attributes left out to fit the maximum message size', {
              messageId,
              dropped,
            }),
        });
  const recovery =
    config.recoveryPublicKey === undefined
      ? undefined
      : parseRecoveryPublicKey(config.recoveryPublicKey);
  logger.info('pii recovery sealing', {
    enabled: recovery !== undefined,
    recoveryKeyId: recovery?.id,
  });
  const processBatch = createBatchProcessor({
    store: createLoginStore(pool),
    keys,
    deadLetter,
    log: logger,
    publish: createMetricsPublisher(telemetry),
    recovery,
    backoff: {
      policy: config.backoff,
      queue: createSqsSourceQueue(sqs, config.sourceQueueUrl, (action, error, messageIds) =>
        logger.error(`source queue ${action} failed`, { messageIds, errorName: errorName(error) }),
      ),
    },
  });
  return { logger, pool, processBatch };
}
