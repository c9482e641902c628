/**
 * The take-home data set, read from ../shared (present on CI beside the clone).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(
  new URL('../../../shared/fixtures/login-queue-takehome/', import.meta.url),
);

/** The 100 message bodies, in send order (index 12 is the malformed one). */
export function takeHomeBodies(): string[] {
  return readFileSync(`${dir}messages.jsonl`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** The take-home's CREATE TABLE for user_logins. */
export function takeHomeDdl(): string {
  return readFileSync(`${dir}user_logins.ddl.sql`, 'utf8');
}
