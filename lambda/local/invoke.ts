/**
 * `npm run invoke -- --event <file> [--env-vars <file>]`: runs the shipped handler bundle
 * once on an SQS event file (the format of `sam local generate-event sqs receive-message`),
 * like `sam local invoke`. The response goes to stdout, the handler's logs to stderr; the
 * exit code is non-zero only if the handler threw.
 *
 * Without DATABASE_URL (or DB_HOST) an embedded PostgreSQL is started and migrated, and the
 * function logs in as its own role (login_queue_writer). Without MASKING_SECRET_ID a local
 * Secrets Manager stand-in serves the masking key: from a keys file (as `npm start` keeps
 * one) when the database outlives the run, else a fresh throw-away key. Without DLQ_URL
 * invalid records are reported in batchItemFailures.
 */
import { readFileSync } from 'node:fs';
import type { SQSEvent } from 'aws-lambda';
import { buildBundles } from '../cli/build';
import { parseCommandLine, requiredFlag, runCommand } from '../cli/command';
import { DEFAULT_KEYS_FILE, loadOrCreateKeysFile } from '../cli/keys-file';
import { connectDatabase } from '../cli/shared';
import { Env, type EnvName, type FunctionEnvironment, LibraryEnv } from '../contract/env';
import { WRITER_ROLE } from '../contract/roles';
import { UsageError } from '../core/errors';
import { redactPasswords } from '../core/redact';
import { localAwsEnv, randomMaskingSecret } from './aws';
import { loadBundleModule, localContext } from './bundle';
import { type LocalPostgres, startLocalPostgres } from './postgres';
import { startLocalSecretsManager } from './secrets-manager';

const HELP = `Usage: npm run invoke -- --event <file> [--env-vars <file>] [--keys-file <file>]

Runs the shipped handler bundle once on an SQS event file; the SQSBatchResponse goes to
stdout, the handler's logs to stderr. Exits 1 only if the function threw, with one line
naming why.

  --event FILE      an SQS event ({"Records": [...]}), e.g. lambda/local/events/mixed-batch.json
  --env-vars FILE   environment for the function, SAM format: {"Parameters": {...}} and/or
                    {"<FunctionLogicalId>": {...}}, or a flat {"NAME": "value"} object
  --keys-file FILE  the masking key (and recovery public key) when MASKING_SECRET_ID is not
                    set: read if the file exists, else generated into it, mode 600
                    [KEYS_FILE] (default with DATABASE_URL or DB_HOST: ${DEFAULT_KEYS_FILE};
                    without, the embedded database and its key are thrown away)
  -h, --help        this text
`;

/** Flattens a SAM env-vars file: global Parameters first, then every function's block. */
export function readEnvVars(text: string): Record<string, string> {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const env: Record<string, string> = {};
  const blocks = [
    parsed.Parameters,
    ...Object.entries(parsed)
      .filter(([k]) => k !== 'Parameters')
      .map(([, v]) => v),
  ];
  for (const [key, value] of Object.entries(parsed))
    if (typeof value === 'string') env[key] = value;
  for (const block of blocks) {
    if (typeof block !== 'object' || block === null) continue;
    for (const [key, value] of Object.entries(block)) env[key] = String(value);
  }
  return env;
}

/** Reads a JSON file named by a flag; a missing or malformed file is a UsageError. */
function readJsonFlag(path: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`--${flag} ${path} is not JSON`);
  }
}

/** The event file as an SQSEvent; UsageError unless it has a Records array of objects. */
export function readEvent(path: string): SQSEvent {
  const event = readJsonFlag(path, 'event') as { Records?: unknown };
  const records = event?.Records;
  if (!Array.isArray(records) || records.some((r) => typeof r !== 'object' || r === null)) {
    throw new UsageError(
      `--event ${path} is not an SQS event: it needs {"Records": [...]} (see lambda/local/events/)`,
    );
  }
  return event as SQSEvent;
}

async function main(): Promise<number> {
  const args = parseCommandLine(HELP, {
    options: {
      event: { type: 'string' },
      'env-vars': { type: 'string' },
      'keys-file': { type: 'string' },
    },
  });
  if (args === undefined) return 0;
  const { values } = args;
  const event = readEvent(requiredFlag(values.event, 'event'));
  const envFile = values['env-vars'];
  if (envFile !== undefined) readJsonFlag(envFile, 'env-vars');
  // The file may name variables of its own: they are passed on as they are.
  const env: FunctionEnvironment = envFile ? readEnvVars(readFileSync(envFile, 'utf8')) : {};
  const configured = (name: EnvName) => env[name] ?? process.env[name];
  const stops: (() => Promise<void>)[] = [];
  let postgres: LocalPostgres | undefined;
  const url = configured(Env.DATABASE_URL);
  // A database that outlives the run needs keys that do too, or its tokens never match again.
  const persistent = Boolean(url || configured(Env.DB_HOST));
  const keysFile = values['keys-file'] ?? (process.env.KEYS_FILE || undefined);
  if (values['keys-file'] !== undefined && configured(Env.MASKING_SECRET_ID)) {
    throw new UsageError('--keys-file and MASKING_SECRET_ID both name the masking key; give one');
  }
  /** The masking secret the stand-in serves, with RECOVERY_PUBLIC_KEY from the same file. */
  const maskingSecret = (file: string | undefined): string => {
    if (file === undefined) return randomMaskingSecret();
    const { keys, created } = loadOrCreateKeysFile(file);
    if (!configured(Env.RECOVERY_PUBLIC_KEY)) env[Env.RECOVERY_PUBLIC_KEY] = keys.recoveryPublicKey;
    process.stderr.write(
      created
        ? `invoke: keys generated into ${file}, mode 600; later runs, npm start and the operator commands reuse it (KEYS_FILE)\n`
        : `invoke: keys from ${file}\n`,
    );
    return keys.maskingSecret;
  };
  try {
    const source =
      env[Env.DATABASE_URL] === undefined ? Env.DATABASE_URL : `${Env.DATABASE_URL} in ${envFile}`;
    if (url) await (await connectDatabase(url, source)).end();
    await buildBundles();
    if (!persistent) {
      const started = await startLocalPostgres();
      postgres = started;
      stops.push(() => started.stop());
      env[Env.DATABASE_URL] = started.url;
      process.stderr.write(`invoke: embedded PostgreSQL at ${redactPasswords(started.url)}\n`);
    }
    if (!configured(Env.MASKING_SECRET_ID)) {
      const secrets = await startLocalSecretsManager();
      stops.push(() => secrets.stop());
      const file = keysFile ?? (persistent ? DEFAULT_KEYS_FILE : undefined);
      env[Env.MASKING_SECRET_ID] = secrets.put('login-queue/masking-key', maskingSecret(file));
      const { [LibraryEnv.AWS_ENDPOINT_URL_SQS]: _, ...aws } = localAwsEnv('', secrets.endpoint);
      Object.assign(env, aws);
    }
    // Handler logs (stdout and stderr in Powertools) all go to stderr; stdout is the response.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
    let response: unknown;
    try {
      const migrate = loadBundleModule<(e: unknown, c: unknown) => Promise<unknown>>(
        env,
        'migrate',
      );
      stops.push(() => migrate.close());
      await migrate.handler({}, localContext());
      // Migrated as the admin; on our own server the function then logs in as its own role.
      if (postgres !== undefined) {
        env[Env.DATABASE_URL] = await postgres.loginAs(WRITER_ROLE);
        process.stderr.write(`invoke: the function logs in as ${WRITER_ROLE}\n`);
      }
      const bundle = loadBundleModule(env);
      stops.push(() => bundle.close());
      response = await bundle.handler(event, localContext());
    } finally {
      process.stdout.write = write;
    }
    write(`${JSON.stringify(response, null, 2)}\n`);
    return 0;
  } finally {
    // Pools end before their server stops, so no connection is dropped under them.
    for (const stop of stops.reverse()) await stop();
  }
}

runCommand('invoke', main, { stack: true });
