/**
 * A real PostgreSQL streaming replica on this machine: a primary made with initdb and a hot
 * standby made from it with pg_basebackup, both on free loopback ports in one temporary
 * directory, as RDS makes a read replica (asynchronous physical replication). It uses the
 * system's PostgreSQL 15 binaries: the embedded server the other tests use has no
 * pg_basebackup.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withClient } from '../../lambda/db/pool';
import { onCleanup } from '../../lambda/local/cleanup';
import { freePort } from '../../lambda/local/postgres';

/** Where Debian's postgresql-15 package puts the server binaries. */
export const PG15_BIN = '/usr/lib/postgresql/15/bin';

const TOOLS = ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'] as const;

/** Why a replica cannot be started here, or undefined when it can. */
export function replicaUnavailable(bin = PG15_BIN): string | undefined {
  const missing = TOOLS.filter((tool) => !existsSync(join(bin, tool)));
  return missing.length === 0
    ? undefined
    : `no PostgreSQL 15 server binaries in ${bin} (missing ${missing.join(', ')}; apt-get install postgresql-15)`;
}

export interface ReplicatedPostgres {
  /** The primary as its superuser: postgres://postgres:…@127.0.0.1:<port>/postgres */
  readonly primaryUrl: string;
  /** The standby, same user and database (read-only: every write fails with SQLSTATE 25006). */
  readonly replicaUrl: string;
  /**
   * Resolves once the standby has replayed all the WAL the primary had written when it was
   * called; throws after `timeoutMs` naming both positions.
   */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** Stops the standby, then the primary, and removes their directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface ReplicatedPostgresOptions {
  /** CPU lists (taskset -c) to pin each server's postmaster and its children to. */
  readonly cpus?: { readonly primary?: string; readonly replica?: string };
  /** Server settings for both, e.g. { work_mem: '64MB' }. */
  readonly settings?: Readonly<Record<string, string>>;
}

/** The OS user the servers run as: PostgreSQL refuses to run as root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * Starts a primary and a hot standby streaming from it. Registered with onCleanup until
 * stopped; throws (after removing what it made) when a step fails, with that step's output.
 */
export async function startReplicatedPostgres(
  options: ReplicatedPostgresOptions = {},
): Promise<ReplicatedPostgres> {
  const unavailable = replicaUnavailable();
  if (unavailable !== undefined) throw new Error(unavailable);
  const user = serverUser();
  const dir = await mkdtemp(join(tmpdir(), 'login-queue-replica-'));
  const primaryDir = join(dir, 'primary');
  const replicaDir = join(dir, 'replica');
  const started: string[] = [];
  let stopped: Promise<void> | undefined;

  /** Runs a PostgreSQL tool as the server's user, optionally pinned to `cpus`. */
  const run = (tool: string, args: string[], cpus?: string, env: Record<string, string> = {}) => {
    const [file, argv] =
      cpus === undefined
        ? [join(PG15_BIN, tool), args]
        : ['taskset', ['-c', cpus, join(PG15_BIN, tool), ...args]];
    return new Promise<string>((resolve, reject) => {
      execFile(
        file,
        argv,
        { cwd: dir, env: { ...process.env, ...env }, ...user, timeout: 120_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`${tool} failed: ${error.message}\n${stdout}${stderr}`));
          else resolve(stdout);
        },
      );
    });
  };
  const pgCtl = async (data: string, action: 'start' | 'stop', extra: string[], cpus?: string) => {
    try {
      await run('pg_ctl', [action, '-D', data, '-w', '-t', '90', ...extra], cpus);
    } catch (error) {
      const log = await readFile(`${data}.log`, 'utf8').catch(() => '');
      throw new Error(`${(error as Error).message}\n${data}.log:\n${log}`);
    }
  };
  const stop = () => {
    stopped ??= (async () => {
      unregister();
      try {
        // The standby first: a primary stopping in fast mode waits for its WAL senders.
        for (const data of started.splice(0).reverse()) {
          await pgCtl(data, 'stop', ['-m', 'fast']).catch(() => {});
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })();
    return stopped;
  };
  const unregister = onCleanup(stop);

  // Random passwords: anyone on this machine can reach 127.0.0.1.
  const password = randomBytes(18).toString('base64url');
  const replicationPassword = randomBytes(18).toString('base64url');
  try {
    // The servers' user makes the standby's directory and the logs here.
    if (user) await chown(dir, user.uid, user.gid);
    await mkdir(primaryDir, { mode: 0o700 });
    const pwfile = join(dir, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) {
      await chown(primaryDir, user.uid, user.gid);
      await chown(pwfile, user.uid, user.gid);
    }
    await run('initdb', [
      '-D',
      primaryDir,
      '-U',
      'postgres',
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
    ]);
    await rm(pwfile);
    await appendFile(
      join(primaryDir, 'pg_hba.conf'),
      'host replication replicator 127.0.0.1/32 scram-sha-256\n',
    );
    const [primaryPort, replicaPort] = [await freePort(), await freePort()];
    const settings = {
      listen_addresses: '127.0.0.1',
      // TCP only: the default socket directory (/var/run/postgresql) may not be writable.
      unix_socket_directories: '',
      wal_level: 'replica',
      max_wal_senders: '4',
      hot_standby: 'on',
      // As the embedded server: a throw-away cluster need not survive a power cut.
      fsync: 'off',
      synchronous_commit: 'off',
      logging_collector: 'off',
      ...options.settings,
    };
    const flags = (port: number) => [
      '-o',
      [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}='${v}'`)].join(' '),
    ];
    const log = (data: string) => ['-l', `${data}.log`];

    await pgCtl(
      primaryDir,
      'start',
      [...log(primaryDir), ...flags(primaryPort)],
      options.cpus?.primary,
    );
    started.push(primaryDir);
    const primaryUrl = `postgres://postgres:${password}@127.0.0.1:${primaryPort}/postgres`;
    await withClient(primaryUrl, (client) =>
      client.query(
        `CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${replicationPassword}'`,
      ),
    );

    // -R writes primary_conninfo (with the password) and standby.signal: a standby that
    // streams from the primary, as RDS's read replica does.
    await run(
      'pg_basebackup',
      [
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
        '-D',
        replicaDir,
        '-h',
        '127.0.0.1',
        '-p',
        String(primaryPort),
        '-U',
        'replicator',
      ],
      undefined,
      { PGPASSWORD: replicationPassword },
    );
    await pgCtl(
      replicaDir,
      'start',
      [...log(replicaDir), ...flags(replicaPort)],
      options.cpus?.replica,
    );
    started.push(replicaDir);
    const replicaUrl = `postgres://postgres:${password}@127.0.0.1:${replicaPort}/postgres`;

    return {
      primaryUrl,
      replicaUrl,
      async waitForReplay(timeoutMs = 60_000) {
        const target = await withClient(primaryUrl, async (client) => {
          // Commits made with synchronous_commit off may still be in WAL buffers, beyond
          // pg_current_wal_lsn() and unsent. A transaction that writes WAL and commits
          // synchronously flushes them all; one with an xid but no WAL of its own commits
          // asynchronously whatever the setting, so it writes a (transactional) message.
          await client.query('SET synchronous_commit = on');
          await client.query("SELECT pg_logical_emit_message(true, 'login-queue', 'replay')");
          const { rows } = await client.query<{ lsn: string }>(
            'SELECT pg_current_wal_lsn()::text AS lsn',
          );
          return rows[0]?.lsn ?? '0/0';
        });
        await withClient(replicaUrl, async (client) => {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const { rows } = await client.query<{ done: boolean; at: string | null }>(
              'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done, pg_last_wal_replay_lsn()::text AS at',
              [target],
            );
            if (rows[0]?.done) return;
            if (Date.now() > deadline) {
              throw new Error(
                `the standby replayed up to ${rows[0]?.at} in ${timeoutMs} ms, not the primary's ${target}`,
              );
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        });
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
