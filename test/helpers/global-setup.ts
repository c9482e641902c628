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
