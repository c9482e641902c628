/**
 * Lambda entry point of the operations function: unmask, rekey, DLQ peek, redrive and forget,
 * called through its function URL (AuthType AWS_IAM) by the operator role, who proves it with
 * a signed sts:GetCallerIdentity in each request (lambda/ops/operations.ts, sts-verifier.ts).
 * Dependencies are built once per container; key rings are read per request.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { getSecretString } from '../aws/secrets';
import { createCallerVerifier } from '../aws/sts-verifier';
import { createLogger } from '../aws/telemetry';
import { parseKeyRing } from '../core/key-ring';
import { parseRecoveryRing } from '../core/recovery';
import { endPool } from '../db/pool';
import { createOperations } from '../ops/operations';
import type { OperationsEvent } from '../ops/requests';
import { loadOperationsConfig, loadTelemetryConfig } from './config';
import { createDatabasePool, sqsClient } from './runtime';

const config = loadOperationsConfig();
const logger = createLogger(loadTelemetryConfig());
const secrets = new SecretsManagerClient({});
const pool = createDatabasePool(config.database, {
  // rekey's batches; the function's own timeout bounds the whole run.
  queryTimeoutMs: 300_000,
  secretTtlMs: 0,
  logger,
  secrets,
});
const operations = createOperations({
  pool,
  recoveryRing: async () =>
    parseRecoveryRing(await getSecretString(secrets, config.recoverySecretId)),
  maskingRing: async () => parseKeyRing(await getSecretString(secrets, config.maskingSecretId)),
  sqs: sqsClient(),
  queues: { dlqUrl: config.deadLetterQueueUrl, queueUrl: config.sourceQueueUrl },
  // The CLI's audit line, on stderr (the function's log): who, when, which token, why.
  audit: (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`),
  verifyCaller: createCallerVerifier(config),
  onFailure: (command, error) =>
    logger.error('operation failed', {
      command,
      errorName: error.name,
      errorMessage: error.message,
    }),
});

export const handler = (event: OperationsEvent, context: Context) => {
  logger.addContext(context);
  return operations(event, context.invokedFunctionArn);
};

/** Ends the container's database pool. Lambda never calls it; local runs do before stopping their database. */
export const close = (): Promise<void> => endPool(pool);
