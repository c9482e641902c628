/**
 * Loads a built Lambda bundle (dist/<entry>/index.js) in this process the way the Lambda
 * runtime does: environment first, then the module, whose top level builds its dependencies.
 */
import { createRequire } from 'node:module';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type BUNDLE, bundlePath } from '../contract/bundling';
import type { FunctionEnvironment } from '../contract/env';

const require = createRequire(import.meta.url);

type Entry = keyof typeof BUNDLE.entries;

export type SqsHandler = (event: SQSEvent, context: object) => Promise<SQSBatchResponse>;

/**
 * Sets `env` on process.env and (re)loads the bundle; each call is a fresh "container".
 * Throws when the bundle is missing (run `npm run build`) or its configuration is invalid.
 */
export function loadBundle<T = SqsHandler>(
  env: Readonly<Record<string, string>>,
  entry: Entry = 'handler',
): T {
  return loadBundleModule<T>(env, entry).handler;
}

/** A loaded bundle: its handler, and `close()`, which ends its database pool. */
export interface BundleModule<T> {
  readonly handler: T;
  close(): Promise<void>;
}

/** As loadBundle, with the module's `close` for a clean stop (no connection dropped under it). */
export function loadBundleModule<T = SqsHandler>(
  env: FunctionEnvironment,
  entry: Entry = 'handler',
): BundleModule<T> {
  const path = bundlePath(entry);
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined) process.env[name] = value;
  }
  delete require.cache[path];
  return require(path) as BundleModule<T>;
}

/** A minimal Lambda context for local invocations. */
export function localContext(functionName = 'login-queue-local') {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
