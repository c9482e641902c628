/**
 * Integration-test setup, once per run: builds the Lambda bundle that ships, and provides a
 * PostgreSQL server: DATABASE_URL when set, else an embedded server started here.
 */
import type { TestProject } from 'vitest/node';
import { buildBundles } from '../../infra/build';
import { type LocalPostgres, startLocalPostgres } from '../../lambda/local/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

let server: LocalPostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  // Test workers create SDK clients in process; the SDK's documented switch for its Node 20
  // notice (aws/aws-sdk-js-v3#7983), as every command sets it. Child processes the tests
  // start get their own environment and prove the commands quiet by themselves.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  await buildBundles();
  let url = process.env.DATABASE_URL;
  if (!url) {
    server = await startLocalPostgres();
    url = server.url;
  }
  project.provide('adminDatabaseUrl', url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
