/**
 * Command-line flags the operator commands and the local runner share: where a value came
 * from (the flag or its environment variable), and a checked --database-url.
 */
import { UsageError } from '../core/errors';

/** Where a flag's value came from: the flag when the command line has it, else `envName`. */
export function flagSource(flag: string, envName: string, argv = process.argv): string {
  const given = argv.some((arg) => arg === `--${flag}` || arg.startsWith(`--${flag}=`));
  return given ? `--${flag}` : envName;
}

/**
 * A --database-url value: undefined stays undefined; anything but a postgres:// URL with a
 * host is a UsageError naming `source` (the flag or DATABASE_URL, whichever gave it), which
 * does not repeat the value: it may hold a password.
 */
export function databaseUrlFlag(
  raw: string | undefined,
  source = flagSource('database-url', 'DATABASE_URL'),
): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^postgres(ql)?:$/.test(url.protocol) || url.hostname === '') {
    throw new UsageError(
      `${source} must be a URL like postgres://user:password@host:5432/database`,
    );
  }
  return raw;
}
