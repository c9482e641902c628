/**
 * Signing a person in as one of the database roles on a local server: a fresh random password,
 * set through an admin connection, the local stand-in for an IAM token (RDS).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ConfigError } from '../core/errors';

// RFC 7677's minimum, PostgreSQL's default (scram_iterations).
const SCRAM_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (its format, RFC 5803). Given
 * to ALTER ROLE … PASSWORD, the password itself never reaches the server, nor its statement
 * log. `password` must be ASCII (SASLprep leaves ASCII as it is).
 */
export function scramVerifier(password: string, salt = randomBytes(16)): string {
  const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const hmac = (text: string) => createHmac('sha256', salted).update(text).digest();
  const storedKey = createHash('sha256').update(hmac('Client Key')).digest('base64');
  const serverKey = hmac('Server Key').toString('base64');
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey}:${serverKey}`;
}

/**
 * Gives `role` a new random password through `admin` (a connection that may alter it) and
 * returns it; the previous one stops working. Throws ConfigError when the role does not
 * exist or may not log in (migration 9 not applied).
 */
export async function newRolePassword(admin: pg.Client, role: string): Promise<string> {
  const { rows } = await admin.query<{ rolcanlogin: boolean }>(
    'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
    [role],
  );
  const found = rows[0];
  if (found === undefined)
    throw new ConfigError(`role ${role} does not exist: migrate this database first (npm start)`);
  if (!found.rolcanlogin)
    throw new ConfigError(
      `role ${role} may not log in: migration 9 is not applied, or its user could not ALTER ROLE ${role} LOGIN`,
    );
  const password = randomBytes(24).toString('base64url');
  await admin.query(
    `ALTER ROLE ${admin.escapeIdentifier(role)} PASSWORD ${admin.escapeLiteral(scramVerifier(password))}`,
  );
  return password;
}
