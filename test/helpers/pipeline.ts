/**
 * The shipped bundle wired to a throw-away database and local AWS edges, migrated with its
 * own migration function: what the integration tests drive.
 */
import { PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { type LocalAws, startLocalAws } from '../../lambda/local/aws';
import { loadBundleModule, type SqsHandler } from '../../lambda/local/bundle';
import { createTestDatabase, type TestDatabase } from './database';
import { sqsClientFor } from './queues';
import { maskingSecret } from './sqs';

export interface Pipeline {
  readonly db: TestDatabase;
  readonly aws: LocalAws;
  /** The function's environment. */
  readonly env: Record<string, string>;
  /** A handler instance (one "container") on `env`. */
  readonly handler: SqsHandler;
  /** Empties user_logins and both queues, between tests. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** `extraEnv` may depend on the database (e.g. a proxied DATABASE_URL). */
export async function startPipeline(
  extraEnv: (
    db: TestDatabase,
  ) => Promise<Record<string, string>> | Record<string, string> = () => ({}),
): Promise<Pipeline> {
  const [db, aws] = await Promise.all([
    createTestDatabase(),
    startLocalAws({ maskingSecret: maskingSecret('k1') }),
  ]);
  const env = {
    ...aws.awsEnv,
    DATABASE_URL: db.url,
    MASKING_SECRET_ID: aws.maskingSecretArn,
    DLQ_URL: aws.dlqUrl,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ...(await extraEnv(db)),
  };
  const migration = loadBundleModule<() => Promise<unknown>>(env, 'migrate');
  await migration.handler();
  const bundle = loadBundleModule(env);
  return {
    db,
    aws,
    env,
    handler: bundle.handler,
    async reset() {
      await db.pool.query('TRUNCATE user_logins');
      const sqs = sqsClientFor(aws.sqsEndpoint);
      await Promise.all(
        [aws.queueUrl, aws.dlqUrl].map((url) => sqs.send(new PurgeQueueCommand({ QueueUrl: url }))),
      );
    },
    async stop() {
      // Pools close before the database is dropped under them.
      await Promise.all([migration.close(), bundle.close()]);
      await Promise.all([db.drop(), aws.stop()]);
    },
  };
}
