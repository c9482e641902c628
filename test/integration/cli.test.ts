/**
 * Every command behaves like a Unix tool: --help on stdout with exit 0, usage mistakes in one
 * line with exit 2, numeric flags checked against their range, connection failures that name
 * the service and address, no stack trace for a user mistake, no SDK or pool noise; and the
 * environment `npm start --keep` prints runs every operator command as printed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeadLetterPeek } from '../../lambda/aws/dead-letters';
import { generateLocalKeys, writeKeysFile } from '../../lambda/cli/keys-file';
import { parseRecoveryPublicKey, parseRecoveryRing } from '../../lambda/core/recovery';
import { withClient } from '../../lambda/db/pool';
import { generateBodies } from '../../lambda/local/generate';
import {
  cleanEnv,
  commandScripts,
  parseExportLine,
  readUntil,
  runScript,
  spawnScript,
} from '../helpers/cli';
import { createTestDatabase } from '../helpers/database';
import { sqsClientFor } from '../helpers/queues';
import { startTcpProxy } from '../helpers/tcp-proxy';

const dir = mkdtempSync(join(tmpdir(), 'login-queue-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOISE = /NodeVersionSupportWarning|idle database connection dropped|\n\s+at /;

/** One line on stderr, exit 2, the usage hint; no stack. */
function expectUsageError(result: { code: number; stderr: string }, text: RegExp | string) {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(text);
  expect(result.stderr).toContain('(see --help)');
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const proxy = await startTcpProxy('127.0.0.1', 9);
  await proxy.stop();
  return proxy.port;
}

const scripts = Object.keys(commandScripts());

/** A region and credentials for an endpoint on this machine. */
const LOCAL_AWS = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
};

describe('every command', () => {
  it('is found among the npm scripts', () => {
    expect(scripts.sort()).toEqual(
      [
        'build',
        'db:connect',
        'dlq',
        'forget',
        'invoke',
        'maintain',
        'recovery:keygen',
        'redrive',
        'rekey',
        'send',
        'start',
        'unmask',
      ].sort(),
    );
  });

  it.each(scripts)(
    '%s: --help goes to stdout with exit 0 and nothing on stderr',
    async (script) => {
      const result = await runScript(script, ['--help']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(/^Usage: npm /);
      expect(result.stdout).toContain('--help');
    },
  );

  it.each(scripts)('%s: an unknown option is one line on stderr and exit 2', async (script) => {
    const result = await runScript(script, ['--no-such-flag']);
    expectUsageError(result, "Unknown option '--no-such-flag'");
    expect(result.stdout).toBe('');
  });
});

describe('numeric flags', () => {
  it.each([
    ['rekey', ['--batch-size', '0'], '--batch-size must be an integer from 1 to 100000, got "0"'],
    ['rekey', ['--batch-size', 'many'], '--batch-size must be an integer from 1 to 100000'],
    ['start', ['--batch-size', '10001'], '--batch-size must be an integer from 1 to 10000'],
    ['start', ['--concurrency', '0'], '--concurrency must be an integer from 1 to 64'],
    ['start', ['--messages=-1'], '--messages must be an integer from 0 to 1000000'],
    ['start', ['--messages', '1.5'], '--messages must be an integer from 0 to 1000000'],
  ])('%s %j is refused with its range', async (script, args, message) => {
    expectUsageError(await runScript(script, args), message);
  });
});

describe('user mistakes', () => {
  it('invoke: a missing event file is a usage error naming it, without a stack', async () => {
    const result = await runScript('invoke', ['--event', 'no/such/event.json']);
    expectUsageError(result, '--event no/such/event.json: ENOENT');
  });

  it('invoke: a file that is not an SQS event is a usage error, without a stack', async () => {
    const notJson = join(dir, 'not.json');
    const notSqs = join(dir, 'not-sqs.json');
    writeFileSync(notJson, 'Records:');
    writeFileSync(notSqs, JSON.stringify({ detail: { user_id: 'x' } }));
    expectUsageError(await runScript('invoke', ['--event', notJson]), 'is not JSON');
    expectUsageError(await runScript('invoke', ['--event', notSqs]), 'is not an SQS event');
  });

  it('a database URL that is not one is a usage error that does not repeat it', async () => {
    const result = await runScript('unmask', [
      'k1:x',
      '--reason',
      'r',
      '--database-url',
      'notaurl',
    ]);
    expectUsageError(result, '--database-url must be a URL like postgres://');
    expect(result.stderr).not.toContain('notaurl');
    expectUsageError(
      await runScript('start', ['--database-url', 'notaurl']),
      '--database-url must be a URL',
    );
  });

  it('a password in a URL is never printed: not in a usage error, nor in a failure', async () => {
    // Arrange
    const secret = 'Secr3tPw';
    const port = await closedPort();
    // Act
    const usage = await runScript('start', ['--sqs-endpoint', `ftp://key:${secret}@localhost`]);
    const failed = await runScript('start', [
      '--database-url',
      `postgres://app:${secret}@127.0.0.1:${port}/app`,
    ]);
    // Assert
    expectUsageError(
      usage,
      '--sqs-endpoint must be an http(s) URL, got "ftp://key:****@localhost"',
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`PostgreSQL at 127.0.0.1:${port}/app`);
    for (const result of [usage, failed])
      expect(result.stdout + result.stderr).not.toContain(secret);
  });

  it('npm start refuses a queue name or DLQ without an SQS endpoint to find them at', async () => {
    expectUsageError(
      await runScript('start', ['--queue-name', 'logins']),
      '--queue-name and --dlq-url need --sqs-endpoint',
    );
  });

  it('rekey without any source of keys says how to give them', async () => {
    expectUsageError(await runScript('rekey', []), 'the masking key ring is needed: --keys-file');
  });

  it('a keys file that does not exist, or an SQS endpoint that is not a URL, is a usage error', async () => {
    expectUsageError(
      await runScript('rekey', ['--keys-file', join(dir, 'none.json')]),
      `--keys-file ${join(dir, 'none.json')} does not exist`,
    );
    expectUsageError(
      await runScript('start', ['--sqs-endpoint', 'localhost:4566']),
      '--sqs-endpoint must be an http(s) URL, got "localhost:4566"',
    );
  });

  it('unmask without a reason, and dlq without a mode, are usage errors', async () => {
    expectUsageError(await runScript('unmask', ['k1:x']), '--reason is required');
    expectUsageError(
      await runScript('dlq', ['--dlq-url', 'http://127.0.0.1:1/q']),
      'give one of --peek or --redrive',
    );
  });
});

describe('connection failures', () => {
  it('name PostgreSQL and its address (never the password), exit 1, one line', async () => {
    // Arrange
    const keysFile = join(dir, 'keys.json');
    writeKeysFile(keysFile, generateLocalKeys());
    const port = await closedPort();
    // Act
    const result = await runScript('rekey', [
      '--keys-file',
      keysFile,
      '--database-url',
      `postgres://ops:hunter2@127.0.0.1:${port}/logins`,
    ]);
    // Assert
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      new RegExp(`^rekey failed: PostgreSQL at 127\\.0\\.0\\.1:${port}/logins: .*ECONNREFUSED`),
    );
    expect(result.stderr).not.toContain('hunter2');
  });

  it('name Secrets Manager, its endpoint and the secret, exit 1, one line', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const result = await runScript(
      'unmask',
      ['k1:x', '--reason', 'r', '--recovery-secret-id', 'ops/recovery'],
      cleanEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint, ...LOCAL_AWS }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^unmask failed: Secrets Manager at ${endpoint}: secret ops/recovery: .*ECONNREFUSED`,
      ),
    );
  });

  it('name SQS and its endpoint, exit 1, one line', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const result = await runScript(
      'dlq',
      ['--peek', '--dlq-url', `${endpoint}/000000000000/login-queue-dlq`],
      cleanEnv({ AWS_ENDPOINT_URL_SQS: endpoint, ...LOCAL_AWS }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      new RegExp(`^dlq failed: SQS at ${endpoint}: queue .*ECONNREFUSED`),
    );
  });
});

describe('npm run recovery:keygen', () => {
  it('recovery:keygen writes the private ring mode 600 and prints the public key the function takes', async () => {
    // Arrange: a fresh directory, as the README's sequence runs in.
    const cwd = mkdtempSync(join(tmpdir(), 'login-queue-keygen-'));
    try {
      // Act
      const result = await runScript('recovery:keygen', ['--key-id', 'r1'], cleanEnv(), cwd);
      const again = await runScript('recovery:keygen', ['--key-id', 'r1'], cleanEnv(), cwd);
      // Assert
      expect(result.code, result.stderr).toBe(0);
      const file = join(cwd, 'recovery-secret.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const ring = parseRecoveryRing(readFileSync(file, 'utf8'));
      expect([...ring.keys()]).toEqual(['r1']);
      const publicKey = /RECOVERY_PUBLIC_KEY=(\S+)/.exec(result.stdout)?.[1] ?? '';
      expect(parseRecoveryPublicKey(publicKey).id).toBe('r1');
      expectUsageError(again, 'recovery-secret.json exists; keys are never overwritten');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('npm run invoke with nothing configured', () => {
  it('starts, uses and stops an embedded PostgreSQL without SDK or pool noise', async () => {
    const result = await runScript('invoke', ['--event', 'lambda/local/events/valid-batch.json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ batchItemFailures: [] });
    expect(result.stderr).not.toMatch(NOISE);
  });
});

describe('npm start against an existing SQS endpoint and database', () => {
  it('runs the README command as written: queue found by name, keys kept in login-queue-keys.json and reused', async () => {
    // Arrange: an endpoint whose queue URLs are not <endpoint>/000000000000/<name>, holding
    // generated messages, and an empty database; the command runs in a fresh directory.
    const sqsServer = await startFauxqs({ port: 0, logger: false });
    const db = await createTestDatabase();
    // The URL as a user gives it, with a password (a server that trusts local connections, as
    // a developer's DATABASE_URL may name, ignores it), so the test can see it is never printed.
    const databaseUrl = new URL(db.url);
    databaseUrl.password ||= 'a-password-never-printed';
    const cwd = mkdtempSync(join(tmpdir(), 'login-queue-cwd-'));
    try {
      const { queueUrl } = sqsServer.createQueue('login-queue');
      const sqs = sqsClientFor(sqsServer.address);
      const send = async (seed: number) => {
        const bodies = generateBodies(50, { seed, invalidRate: 0 });
        for (let i = 0; i < bodies.length; i += 10) {
          const entries = bodies
            .slice(i, i + 10)
            .map((body, j) => ({ Id: String(j), MessageBody: body }));
          await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        }
      };
      const start = (...extra: string[]) =>
        runScript(
          'start',
          ['--sqs-endpoint', sqsServer.address, '--database-url', databaseUrl.href, ...extra],
          cleanEnv(),
          cwd,
        );
      const distinctIps = async () =>
        (await db.pool.query('SELECT count(DISTINCT masked_ip)::int AS n FROM user_logins')).rows[0]
          .n;
      // Act: the same bodies twice, in two runs.
      await send(9);
      const first = await start();
      const afterFirst = await distinctIps();
      await send(9);
      const second = await start();
      // Assert
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain('keys generated into login-queue-keys.json, mode 600');
      expect(statSync(join(cwd, 'login-queue-keys.json')).mode & 0o777).toBe(0o600);
      expect(second.code, second.stderr).toBe(0);
      expect(await db.count()).toBe(100);
      expect(await distinctIps()).toBe(afterFirst);
      const { password } = databaseUrl;
      for (const run of [first, second]) {
        // Both services given: nothing is started for them, as the first line says.
        expect(run.stderr).toContain(
          'checking the given SQS and PostgreSQL, then building the bundle',
        );
        expect(run.stderr).not.toMatch(NOISE);
        expect(run.stderr).not.toContain('Warning');
        // The server stays up, so the result can be queried; the password is never printed.
        expect(run.stdout).toContain('with DATABASE_URL set to the URL you gave (postgres://');
        expect(run.stdout).toContain(':****@');
        expect(run.stdout).toContain('psql "$DATABASE_URL" -c');
        expect(run.stdout + run.stderr).not.toContain(password);
      }
      // A run with other keys says which rows its tokens cannot match.
      const other = await start('--keys-file', 'other-keys.json');
      expect(other.code, other.stderr).toBe(0);
      expect(other.stderr).toMatch(
        /Warning: user_logins holds rows masked with keys not in other-keys\.json \(100 on "k\d{8}T\d{6}-[0-9a-f]{4}"\)/,
      );
      // Before any row is written with the other keys: before the drain starts.
      expect(other.stderr.indexOf('Warning')).toBeLessThan(other.stderr.indexOf('draining'));
      // unmask reads the same file.
      const { rows } = await db.pool.query('SELECT masked_ip FROM user_logins LIMIT 1');
      const unmask = await runScript(
        'unmask',
        [rows[0].masked_ip, '--reason', 'cli test'],
        cleanEnv({ DATABASE_URL: db.url, KEYS_FILE: join(cwd, 'login-queue-keys.json') }),
      );
      expect(unmask.code, unmask.stderr).toBe(0);
      expect(unmask.stdout.trim()).toMatch(/^[0-9a-f.:]+$/);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
      await db.drop();
      await sqsServer.stop();
    }
  });
});

describe('operator commands against an endpoint on this machine', () => {
  it('need no region or credentials, as npm start needs none', async () => {
    // Arrange: an SQS emulator with one dead letter, and an environment naming only it.
    const server = await startFauxqs({ port: 0, logger: false });
    try {
      const { queueUrl } = server.createQueue('local-dlq');
      await sqsClientFor(server.address).send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [{ Id: '0', MessageBody: '{"user_id":"u"}' }],
        }),
      );
      // Act
      const peek = await runScript(
        'dlq',
        ['--peek'],
        cleanEnv({ AWS_ENDPOINT_URL_SQS: server.address, DLQ_URL: queueUrl }),
      );
      // Assert
      expect(peek.stderr).not.toMatch(/Region is missing|Could not load credentials/);
      expect(peek.code, peek.stderr).toBe(0);
      expect(JSON.parse(peek.stdout).total).toBe(1);
    } finally {
      await server.stop();
    }
  });
});

describe('npm start without --keep', () => {
  it('prints no psql command for the embedded server it has stopped', async () => {
    // Act
    const result = await runScript('start', ['--messages', '20', '--batch-size', '10']);
    // Assert
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('rows in user_logins');
    expect(result.stdout).not.toMatch(/psql|Query the result|DATABASE_URL/);
    expect(result.stdout + result.stderr).not.toMatch(/postgres:\/\/[^\s]*@/);
  });
});

describe('npm start --keep', () => {
  it('prints an environment with which every operator command works as printed', async () => {
    // Arrange: npm start with embedded services, left running.
    const start = spawnScript(
      'start',
      ['--keep', '--messages', '300', '--batch-size', '50'],
      cleanEnv(),
    );
    let startErr = '';
    let keysFile = '';
    let dataDir = '';
    start.stderr?.on('data', (chunk) => {
      startErr += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => start.once('exit', resolve));
    try {
      // Everything it prints, to its last line (the second query), which may come in a chunk
      // of its own after the export line.
      const printed = await readUntil(start.stdout as NodeJS.ReadableStream, (text) =>
        /GROUP BY 1, 2 ORDER BY 1, 2"\n/.test(text),
      );
      const exportLine = printed.split('\n').find((line) => line.startsWith('  export ')) ?? '';
      const env = cleanEnv(parseExportLine(exportLine));
      // The database's password is in no line printed; the export line reads it from a file.
      const password = new URL(env.DATABASE_URL ?? '').password;
      expect(password.length).toBeGreaterThan(8);
      expect(printed + startErr).not.toContain(password);
      expect(exportLine).toMatch(/^ {2}export DATABASE_URL="\$\(cat '[^']+\/url'\)" /);
      dataDir = dirname(/cat '([^']+)'/.exec(exportLine)?.[1] ?? '');
      expect(printed).toContain('psql "$DATABASE_URL" -c');
      keysFile = env.KEYS_FILE ?? '';
      // The printed environment names no key material, only the keys file.
      expect(Object.keys(env)).toEqual(
        expect.arrayContaining(['DATABASE_URL', 'AWS_REGION', 'AWS_ENDPOINT_URL_SQS', 'KEYS_FILE']),
      );
      expect(exportLine).not.toMatch(/MASKING_SECRET|RECOVERY_SECRET/);
      const { rows } = await withClient(env.DATABASE_URL ?? '', (client) =>
        client.query<{ masked_ip: string; user_id: string }>(
          'SELECT masked_ip, user_id FROM user_logins LIMIT 1',
        ),
      );
      const token = rows[0]?.masked_ip ?? '';
      const userId = rows[0]?.user_id ?? '';

      // Act / Assert: each command as the summary prints it.
      const peek = await runScript('dlq', ['--peek'], env);
      expect(peek).toMatchObject({ code: 0, stderr: '' });
      // A drain on a busy machine may dead-letter an invalid message twice (a delivery that
      // outlived its 2 s visibility): the peek counts copies; the redrive moves one of each.
      const peeked = JSON.parse(peek.stdout) as DeadLetterPeek;
      const dead = peeked.total;
      const copies = Object.values(peeked.duplicates).reduce((sum, n) => sum + n - 1, 0);
      expect(dead).toBeGreaterThan(0);

      const unmask = await runScript('unmask', [token, '--reason', 'cli test'], env);
      expect(unmask.code, unmask.stderr).toBe(0);
      expect(unmask.stdout.trim()).toMatch(/^[0-9a-f.:]+$/);
      expect(unmask.stderr).not.toMatch(NOISE);

      // A dry run of each command that changes data: what it would do, nothing done.
      const rekeyPreview = await runScript('rekey', ['--dry-run'], env);
      expect(rekeyPreview).toMatchObject({ code: 0, stderr: '' });
      expect(rekeyPreview.stdout).toMatch(/^dry run: would re-key 0 rows to key "[^"]+"; /);
      const strangerKeys = join(dir, 'stranger-keys.json');
      writeKeysFile(strangerKeys, generateLocalKeys());
      const stranger = await runScript('rekey', ['--dry-run'], { ...env, KEYS_FILE: strangerKeys });
      expect(stranger.code, stranger.stderr).toBe(1);
      expect(stranger.stdout).toMatch(/^dry run: would re-key [1-9]/);
      expect(stranger.stderr).toMatch(
        /^rekey would fail: rows are sealed with recovery keys not in the given ring: r\S+\n$/,
      );
      const redrivePreview = await runScript('redrive', ['--dry-run'], env);
      expect(redrivePreview).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(
          new RegExp(`^dry run: would move ${dead - copies} messages back to ${env.QUEUE_URL} \\(`),
        ),
      });
      expect(JSON.parse((await runScript('dlq', ['--peek'], env)).stdout).total).toBe(dead);

      const rekey = await runScript('rekey', [], env);
      expect(rekey.code, rekey.stderr).toBe(0);
      expect(rekey.stdout).toMatch(/^re-keyed 0 rows/);
      expect(rekey.stderr.match(/0 \/ 0 rows \(100 %\)/g)).toHaveLength(1);
      expect(rekey.stderr).not.toMatch(NOISE);

      const forget = await runScript(
        'forget',
        ['--user-id', userId, '--reason', 'cli test erasure'],
        env,
      );
      expect(forget.code, forget.stderr).toBe(0);
      expect(JSON.parse(forget.stdout).rowsDeleted).toBeGreaterThan(0);
      expect(forget.stdout + forget.stderr).not.toContain(userId);

      const redrive = await runScript('redrive', [], env);
      expect(redrive.code, redrive.stderr).toBe(0);
      const dropped = copies > 0 ? `; deleted ${copies} further copies of messages moved` : '';
      expect(redrive.stdout).toBe(
        `moved ${dead - copies} messages back to ${env.QUEUE_URL}${dropped}\n`,
      );
      expect(redrive.stderr).toContain(`${dead - copies} / ${dead} messages`);
      expect(redrive.stderr).not.toMatch(NOISE);

      // As the hint says: npm start in that environment drains the redriven messages.
      expect(printed).toContain('  npm start                drains the queue again');
      const again = await runScript('start', [], env);
      expect(again.code, again.stderr).toBe(0);
      // Each redriven message dead-lettered once more (copies counted apart, as at-least-once allows).
      expect(again.stdout).toMatch(
        new RegExp(`dead-lettered by this run \\(messages\\) +${dead - copies}\\b`),
      );
    } finally {
      start.kill('SIGINT');
    }
    // Ctrl-C ends a --keep session as it ends any other: a clean stop, one line, exit 130.
    expect(await exited).toBe(130);
    expect(existsSync(keysFile)).toBe(false);
    expect(dataDir).toMatch(/login-queue-pg-/);
    expect(existsSync(dataDir)).toBe(false);
    expect(startErr).toMatch(
      /\nended: services stopped, temporary database and keys file removed\n$/,
    );
    // Progress was shown while draining, and the shutdown made no noise.
    expect(startErr).toMatch(/draining {2}300 \/ 300 messages \(100 %\)/);
    expect(startErr).not.toMatch(NOISE);
    // Twelve commands, each a process of its own, and a second npm start: minutes on a busy machine.
  }, 300_000);
});
