/**
 * The shipped bundle wired to a throw-away database and local AWS edges, migrated with its
 * own migration function (as the server's admin user, as in AWS with the master credentials),
 * and run as the function's role (login_queue_writer): what the integration tests drive.
 */
import { PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { Env, type FunctionEnvironment, LibraryEnv } from '../../lambda/contract/env';
import { type LocalAws, startLocalAws } from '../../lambda/local/aws';
import { loadBundleModule, type SqsHandler } from '../../lambda/local/bundle';
import { createTestDatabase, type TestDatabase } from './database';
import { sqsClientFor } from './queues';
import { maskingSecret } from './sqs';
import { createWriterLogin, type WriterLogin } from './writer';

export interface Pipeline {
  readonly db: TestDatabase;
  readonly aws: LocalAws;
  /** The function's database login (db.pool stays the admin's, for arranging and asserting). */
  readonly writer: WriterLogin;
  /** The function's environment. */
  readonly env: Record<string, string>;
  /** A handler instance (one "container") on `env`. */
  readonly handler: SqsHandler;
  /** Empties user_logins and both queues, between tests. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** `extraEnv` may depend on the function's login (e.g. a proxied DATABASE_URL). */
export async function startPipeline(
  extraEnv: (
    writer: WriterLogin,
    aws: LocalAws,
  ) => Promise<Record<string, string>> | Record<string, string> = () => ({}),
): Promise<Pipeline> {
  const [db, aws] = await Promise.all([
    createTestDatabase(),
    startLocalAws({ maskingSecret: maskingSecret('k1') }),
  ]);
  const common = {
    ...aws.awsEnv,
    [Env.MASKING_SECRET_ID]: aws.maskingSecretArn,
    [Env.DLQ_URL]: aws.dlqUrl,
    [LibraryEnv.POWERTOOLS_METRICS_DISABLED]: 'true',
    [LibraryEnv.POWERTOOLS_LOG_LEVEL]: 'SILENT',
  } satisfies FunctionEnvironment;
  const migration = loadBundleModule<() => Promise<unknown>>(
    { ...common, [Env.DATABASE_URL]: db.url },
    'migrate',
  );
  await migration.handler();
  const writer = await createWriterLogin(db);
  const env: Record<string, string> = {
    ...common,
    [Env.DATABASE_URL]: writer.url,
    ...(await extraEnv(writer, aws)),
  };
  const bundle = loadBundleModule(env);
  return {
    db,
    aws,
    writer,
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
      await writer.drop();
    },
  };
}
