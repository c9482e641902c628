/**
 * Logins for the function's database role in the test cluster. Roles are cluster-wide and
 * test files run at once, so each login is its own role, a member of login_queue_writer that
 * inherits its privileges and has none of its own, with its own password (never the shared
 * role's, which a shared server may use). Dropped by drop(), and by the run's teardown if a
 * file died first.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { WRITER_ROLE } from '../../lambda/contract/roles';
import { asAdmin, type TestDatabase } from './database';

export interface WriterLogin {
  readonly role: string;
  readonly password: string;
  /** The test database as this role (a plain connection, like the function's). */
  readonly url: string;
  /** Gives the role a new password (a rotation); returns it. Open sessions stay logged in. */
  rotatePassword(): Promise<string>;
  drop(): Promise<void>;
}

const newPassword = () => randomBytes(18).toString('base64url');

/**
 * A login with exactly login_queue_writer's privileges on `db` (migrated first), or those of
 * another of the migrations' login roles (`memberOf`, e.g. login_queue_operator).
 */
export async function createWriterLogin(
  db: TestDatabase,
  memberOf: string = WRITER_ROLE,
): Promise<WriterLogin> {
  const role = `${inject('testRolePrefix')}${randomBytes(4).toString('hex')}`;
  let password = newPassword();
  await asAdmin(
    `CREATE ROLE ${role} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}' IN ROLE ${memberOf}`,
  );
  const url = () => {
    const u = new URL(db.url);
    u.username = role;
    u.password = password;
    return u.toString();
  };
  return {
    role,
    get password() {
      return password;
    },
    get url() {
      return url();
    },
    async rotatePassword() {
      password = newPassword();
      await asAdmin(`ALTER ROLE ${role} PASSWORD '${password}'`);
      return password;
    },
    drop: () => asAdmin(`DROP ROLE IF EXISTS ${role}`),
  };
}
