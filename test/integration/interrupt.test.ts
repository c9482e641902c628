/**
 * Ctrl-C is a clean stop in every phase of `npm start` (run as a user runs it, through npm):
 * the services stop, nothing is left in the temp folder (the embedded PostgreSQL's data
 * directory, the keys file with the masking and recovery private keys), one line says how far
 * the run got and what was done, and the exit is 130. Each run gets a temp folder of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { WRITER_ROLE } from '../../lambda/contract/roles';
import { cleanEnv, ROOT, spawnScript } from '../helpers/cli';

interface NpmStart {
  readonly child: ChildProcess;
  /** Its TMPDIR. */
  readonly tmp: string;
  readonly exited: Promise<number | null>;
  stderr(): string;
  /** Ctrl-C in a terminal: the signal reaches every process of the group, PostgreSQL too. */
  ctrlC(): void;
}

const running: NpmStart[] = [];
afterEach(() => {
  for (const run of running.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      process.kill(-(run.child.pid as number), 'SIGKILL');
    }
    rmSync(run.tmp, { recursive: true, force: true });
  }
});

/**
 * `npm start -- <args>` in a process group of its own, as a terminal runs it; or (`entry`) its
 * command alone (node with tsx), as a supervisor would, whose SIGINT reaches it alone.
 */
function npmStart(args: readonly string[], how: 'npm' | 'entry' = 'npm'): NpmStart {
  const tmp = mkdtempSync(join(tmpdir(), 'login-queue-interrupt-'));
  // The embedded server runs as another user when the tests run as root: it must enter it.
  chmodSync(tmp, 0o755);
  const env = cleanEnv({ TMPDIR: tmp });
  const child =
    how === 'npm'
      ? spawn('npm', ['start', '--', ...args], { cwd: ROOT, env, detached: true })
      : spawnScript('start', args, env, true);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  child.stdout?.resume();
  const run: NpmStart = {
    child,
    tmp,
    // As a shell reports it: npm ends itself with the signal its child's exit was due to.
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) =>
        resolve(code ?? (signal === null ? null : 128 + constants.signals[signal])),
      ),
    ),
    stderr: () => stderr,
    ctrlC: () => process.kill(-(child.pid as number), 'SIGINT'),
  };
  running.push(run);
  return run;
}

/** Resolves once `check` returns a value other than undefined; rejects after `ms`. */
async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, ms = 150_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out; npm start printed:\n${running.at(-1)?.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What the run left in its temp folder (tsx's compile cache is tsx's, not the run's). */
// tsx's compile cache (tsx-*) and Node's own (node-compile-cache, Node 22+, which tsx turns
// on) belong to the toolchain, not to the run, and are meant to outlive it.
const leftIn = (tmp: string) =>
  readdirSync(tmp).filter((name) => !name.startsWith('tsx-') && name !== 'node-compile-cache');

/** The embedded server's directory once it runs: its URL file and its postmaster's pid. */
async function embeddedServer(tmp: string) {
  const dir = await waitFor(() => {
    const name = leftIn(tmp).find((entry) => entry.startsWith('login-queue-pg-'));
    return name !== undefined && existsSync(join(tmp, name, 'url')) ? join(tmp, name) : undefined;
  });
  const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { url: readFileSync(join(dir, 'url'), 'utf8').trim(), pid };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Exit 130, nothing left behind, and the one line (and no error or stack) on stderr. */
async function expectCleanStop(run: NpmStart, line: RegExp) {
  const late = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error(`no exit in 60 s; it printed:\n${run.stderr()}`)), 60_000);
  });
  expect(await Promise.race([run.exited, late])).toBe(130);
  expect(leftIn(run.tmp)).toEqual([]);
  const stderr = run.stderr();
  const lines = stderr.split('\n').filter((text) => /^(interrupted|ended)\b/.test(text));
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(line);
  expect(stderr).not.toMatch(/npm start failed|npm error|\n\s+at /);
}

const REMOVED = 'services stopped, temporary database and keys file removed';

describe('npm start interrupted', { timeout: 300_000 }, () => {
  it('stops cleanly on Ctrl-C while it starts the services', async () => {
    // Arrange
    const run = npmStart(['--messages', '1000']);
    await waitFor(() => (leftIn(run.tmp).length > 0 ? true : undefined));
    // Act
    run.ctrlC();
    // Assert
    await expectCleanStop(run, new RegExp(`^interrupted while starting; ${REMOVED}$`));
  });

  it('stops cleanly on a SIGTERM to it alone while it starts the services', async () => {
    // Arrange
    const run = npmStart(['--messages', '1000'], 'entry');
    await waitFor(() => (leftIn(run.tmp).length > 0 ? true : undefined));
    // Act
    run.child.kill('SIGTERM');
    // Assert
    await expectCleanStop(run, new RegExp(`^interrupted while starting; ${REMOVED}$`));
  });

  it('stops cleanly on Ctrl-C while it sends', async () => {
    // Arrange
    const run = npmStart(['--messages', '100000']);
    const { pid } = await embeddedServer(run.tmp);
    await waitFor(() => (/sending {3}[1-9]/.test(run.stderr()) ? true : undefined));
    // Act
    run.ctrlC();
    // Assert
    await expectCleanStop(run, new RegExp(`^interrupted: [\\d,]+ of 100,000 sent; ${REMOVED}$`));
    expect(alive(pid)).toBe(false);
  });

  it('stops cleanly on Ctrl-C while it drains', async () => {
    // Arrange
    const run = npmStart(['--messages', '20000']);
    const { pid } = await embeddedServer(run.tmp);
    await waitFor(() => (/draining .* written [1-9]/.test(run.stderr()) ? true : undefined));
    // Act
    run.ctrlC();
    // Assert
    await expectCleanStop(run, new RegExp(`^interrupted: [\\d,]+ of 20,000 drained; ${REMOVED}$`));
    expect(alive(pid)).toBe(false);
  });

  it('stops the database itself on a SIGINT to it alone while a batch is being written', async () => {
    // Arrange: a lock holds the handler's write of its batch open; the signal goes to the
    // command alone, so PostgreSQL does not get it from a terminal.
    const run = npmStart(['--messages', '2000'], 'entry');
    const { url, pid } = await embeddedServer(run.tmp);
    const connect = async () => {
      const client = new pg.Client(url);
      client.on('error', () => {}); // the stop ends these sessions with the server
      await client.connect();
      return client;
    };
    // One session holds the lock; another watches (pg_stat_activity is a snapshot for as long
    // as a transaction lasts).
    const [locker, watcher] = [await connect(), await connect()];
    try {
      // Once it sends, the migrations are done: the lock holds back only the handler.
      await waitFor(() => (run.stderr().includes('sending') ? true : undefined));
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE user_logins IN EXCLUSIVE MODE');
      await waitFor(async () => {
        const { rows } = await watcher.query(
          "SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'",
          [WRITER_ROLE],
        );
        return rows.length > 0 ? true : undefined;
      });
      // Act
      run.child.kill('SIGINT');
      // Assert
      await expectCleanStop(run, new RegExp(`^interrupted: [\\d,]+ of 2,000 drained; ${REMOVED}$`));
      expect(alive(pid)).toBe(false);
    } finally {
      for (const client of [locker, watcher]) await client.end().catch(() => {});
    }
  });
});
