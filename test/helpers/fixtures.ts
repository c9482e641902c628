/**
 * The take-home data set, read from ../shared (beside the clone on CI). Where it is missing
 * the test that needs it is skipped with the reason; under CI=true it fails instead, so CI
 * can never go green by skipping. A CI that has no ../shared to check out (the hosted workflow)
 * says so with TAKE_HOME_FIXTURE=optional.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TAKE_HOME_DIR = fileURLToPath(
  new URL('../../../shared/fixtures/login-queue-takehome/', import.meta.url),
);

/** The test context's skip (vitest: `it('…', ({ skip }) => …)`). */
export type Skip = (note?: string) => never;

/**
 * The fixture directory; skips the running test with a note when it is missing, or throws
 * when `ci` (CI=true) is set.
 */
export function takeHomeDir(
  skip: Skip,
  dir = TAKE_HOME_DIR,
  ci = process.env.CI === 'true' && process.env.TAKE_HOME_FIXTURE !== 'optional',
): string {
  if (existsSync(`${dir}messages.jsonl`) && existsSync(`${dir}user_logins.ddl.sql`)) return dir;
  const reason = `take-home fixture not found at ${dir}`;
  if (ci) throw new Error(`${reason}; CI=true needs it (check out ../shared beside the clone)`);
  const note = `${reason} (check out ../shared beside the clone to run this test)`;
  // The default reporter counts skips but does not print their notes; the console is shown.
  console.warn(`skipped: ${note}`);
  return skip(note);
}

/** The 100 message bodies, in send order (index 12 is the malformed one). */
export function takeHomeBodies(skip: Skip): string[] {
  return readFileSync(`${takeHomeDir(skip)}messages.jsonl`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** The take-home's CREATE TABLE for user_logins. */
export function takeHomeDdl(skip: Skip): string {
  return readFileSync(`${takeHomeDir(skip)}user_logins.ddl.sql`, 'utf8');
}
