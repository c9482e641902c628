/**
 * `npm run invoke -- --event <file> [--env-vars <file>]`: runs the shipped handler bundle
 * once on an SQS event file (the format of `sam local generate-event sqs receive-message`),
 * like `sam local invoke`. The response goes to stdout, the handler's logs to stderr; the
 * exit code is non-zero only if the handler threw.
 *
 * Without DATABASE_URL (or DB_HOST) an embedded PostgreSQL is started and migrated, and the
 * function logs in as its own role (login_queue_writer); without MASKING_SECRET_ID a local
 * Secrets Manager stand-in with a fresh key is used; without DLQ_URL invalid records are
 * reported in batchItemFailures.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { SQSEvent } from 'aws-lambda';
import { buildBundles } from '../../infra/build';
import { runCommand } from '../command';
import { WRITER_ROLE } from '../db/roles';
import { localAwsEnv, randomMaskingSecret } from './aws';
import { loadBundle, localContext } from './bundle';
import { type LocalPostgres, startLocalPostgres } from './postgres';
import { startLocalSecretsManager } from './secrets-manager';

const HELP = `Usage: npm run invoke -- --event <file> [--env-vars <file>]

  --event FILE      an SQS event ({"Records": [...]}), e.g. lambda/local/events/mixed-batch.json
  --env-vars FILE   environment for the function, SAM format: {"Parameters": {...}} and/or
                    {"<FunctionLogicalId>": {...}}, or a flat {"NAME": "value"} object
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

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      event: { type: 'string' },
      'env-vars': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || values.event === undefined) {
    process.stderr.write(HELP);
    return values.help ? 0 : 2;
  }
  const event = JSON.parse(readFileSync(values.event, 'utf8')) as SQSEvent;
  const env: Record<string, string> = values['env-vars']
    ? readEnvVars(readFileSync(values['env-vars'], 'utf8'))
    : {};
  const configured = (name: string) => env[name] ?? process.env[name];
  const stops: (() => Promise<void>)[] = [];
  let postgres: LocalPostgres | undefined;
  try {
    await buildBundles();
    if (!configured('DATABASE_URL') && !configured('DB_HOST')) {
      const started = await startLocalPostgres();
      postgres = started;
      stops.push(() => started.stop());
      env.DATABASE_URL = started.url;
      process.stderr.write(`invoke: embedded PostgreSQL at ${postgres.url}\n`);
    }
    if (!configured('MASKING_SECRET_ID')) {
      const secrets = await startLocalSecretsManager();
      stops.push(() => secrets.stop());
      env.MASKING_SECRET_ID = secrets.put('login-queue/masking-key', randomMaskingSecret());
      const { AWS_ENDPOINT_URL_SQS: _, ...aws } = localAwsEnv('', secrets.endpoint);
      Object.assign(env, aws);
    }
    // Handler logs (stdout and stderr in Powertools) all go to stderr; stdout is the response.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
    let response: unknown;
    try {
      await loadBundle<(e: unknown, c: unknown) => Promise<unknown>>(env, 'migrate')(
        {},
        localContext(),
      );
      // Migrated as the admin; on our own server the function then logs in as its own role.
      if (postgres !== undefined) {
        env.DATABASE_URL = await postgres.loginAs(WRITER_ROLE);
        process.stderr.write(`invoke: the function logs in as ${WRITER_ROLE}\n`);
      }
      response = await loadBundle(env)(event, localContext());
    } finally {
      process.stdout.write = write;
    }
    write(`${JSON.stringify(response, null, 2)}\n`);
    return 0;
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

runCommand('invoke', main, { stack: true });
