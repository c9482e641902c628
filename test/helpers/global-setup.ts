/**
 * Integration-test setup, once per run: builds the Lambda bundle that ships, and provides a
 * PostgreSQL server: DATABASE_URL when set, else an embedded server started here. Roles are
 * cluster-wide, so at the end the run drops every role it created: the test logins (by their
 * prefix) and the migrations' roles if they did not exist before the run.
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { buildBundles } from '../../lambda/cli/build';
import { OPERATOR_ROLE, WRITER_ROLE } from '../../lambda/contract/roles';
import { withClient } from '../../lambda/db/pool';
import { type LocalPostgres, startLocalPostgres } from '../../lambda/local/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    /** Test-created roles start with it (lower case, so no quoting). */
    testRolePrefix: string;
  }
}

const MIGRATION_ROLES = ['login_queue_analyst', 'login_queue_recovery', WRITER_ROLE, OPERATOR_ROLE];

let server: LocalPostgres | undefined;
let adminUrl = '';
let rolePrefix = '';
let rolesBefore = new Set<string>();

async function existingRoles(): Promise<Set<string>> {
  const { rows } = await withClient(adminUrl, (client) =>
    client.query<{ rolname: string }>('SELECT rolname FROM pg_roles'),
  );
  return new Set(rows.map((row) => row.rolname));
}

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
  adminUrl = url;
  rolePrefix = `login_queue_test_${randomBytes(3).toString('hex')}_`;
  rolesBefore = await existingRoles();
  project.provide('adminDatabaseUrl', url);
  project.provide('testRolePrefix', rolePrefix);
}

/** Drops the roles this run created; one still holding privileges somewhere is reported. */
async function dropCreatedRoles(): Promise<void> {
  const created = [...(await existingRoles())].filter(
    (role) =>
      role.startsWith(rolePrefix) || (MIGRATION_ROLES.includes(role) && !rolesBefore.has(role)),
  );
  // Test logins first: they are members of the migrations' roles.
  created.sort((a, b) => Number(b.startsWith(rolePrefix)) - Number(a.startsWith(rolePrefix)));
  await withClient(adminUrl, async (client) => {
    for (const role of created) {
      await client.query(`DROP ROLE IF EXISTS ${role}`).catch((error: Error) => {
        process.stderr.write(`test teardown: role ${role} not dropped: ${error.message}\n`);
      });
    }
  });
}

export async function teardown(): Promise<void> {
  try {
    if (adminUrl) await dropCreatedRoles();
  } finally {
    await server?.stop();
  }
}
