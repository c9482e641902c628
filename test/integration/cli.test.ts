/**
 * Every command behaves like a Unix tool: --help on stdout with exit 0, usage mistakes in one
 * line with exit 2, numeric flags checked against their range, connection failures that name
 * the service and address, no stack trace for a user mistake, no SDK or pool noise; and the
 * environment `npm start --keep` prints runs every operator command as printed.
 */
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, describe, expect, it } from 'vitest';
import { withClient } from '../../lambda/db/pool';
import { generateBodies } from '../../lambda/local/generate';
import type { DeadLetterPeek } from '../../lambda/ops/dead-letters';
import { generateLocalKeys, writeKeysFile } from '../../lambda/ops/keys-file';
import { parseRecoveryPublicKey, parseRecoveryRing } from '../../lambda/recovery';
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
        'dlq',
        'forget',
        'invoke',
        'maintain',
        'recovery:keygen',
        'redrive',
        'rekey',
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
          ['--sqs-endpoint', sqsServer.address, '--database-url', db.url, ...extra],
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
      for (const run of [first, second]) {
        expect(run.stderr).not.toMatch(NOISE);
        expect(run.stderr).not.toContain('Warning');
      }
      // A run with other keys says which rows its tokens cannot match.
      const other = await start('--keys-file', 'other-keys.json');
      expect(other.code, other.stderr).toBe(0);
      expect(other.stderr).toMatch(
        /Warning: user_logins holds rows masked with keys not in other-keys\.json \(100 on "k\d{8}T\d{6}-[0-9a-f]{4}"\)/,
      );
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
    start.stderr?.on('data', (chunk) => {
      startErr += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => start.once('exit', resolve));
    try {
      const printed = await readUntil(start.stdout as NodeJS.ReadableStream, (text) =>
        /\n {2}npm run dlq/.test(text),
      );
      const exportLine = printed.split('\n').find((line) => line.startsWith('  export ')) ?? '';
      const env = cleanEnv(parseExportLine(exportLine));
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

      const rekey = await runScript('rekey', [], env);
      expect(rekey.code, rekey.stderr).toBe(0);
      expect(rekey.stdout).toMatch(/^re-keyed 0 rows/);
      expect(rekey.stderr).toContain('0 / 0 rows (100 %)');
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
    } finally {
      start.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(existsSync(keysFile)).toBe(false);
    // Progress was shown while draining, and the shutdown made no noise.
    expect(startErr).toMatch(/draining {2}300 \/ 300 messages \(100 %\)/);
    expect(startErr).not.toMatch(NOISE);
  });
});

describe('npm start interrupted', () => {
  it('removes its temporary cluster and keys file on a terminal Ctrl-C, and exits 130', async () => {
    // Arrange: its own temporary directory (the embedded server's user must traverse it), and
    // a process group of its own, as in a terminal, where Ctrl-C reaches PostgreSQL too.
    const tmp = mkdtempSync(join(tmpdir(), 'login-queue-ctrl-c-'));
    chmodSync(tmp, 0o755);
    const start = spawnScript(
      'start',
      ['--messages', '20000'],
      cleanEnv({ TMPDIR: tmp, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }),
      true,
    );
    const exited = new Promise<number | null>((resolve) => start.once('exit', resolve));
    try {
      await readUntil(start.stderr as NodeJS.ReadableStream, (text) => text.includes('draining'));
      const ours = () => readdirSync(tmp).filter((name) => name.startsWith('login-queue-'));
      expect(ours().sort()).toEqual([
        expect.stringMatching(/^login-queue-keys-/),
        expect.stringMatching(/^login-queue-pg-/),
      ]);
      // Act: Ctrl-C, to the whole group.
      process.kill(-(start.pid as number), 'SIGINT');
      // Assert
      expect(await exited).toBe(130);
      expect(ours()).toEqual([]);
    } finally {
      if (start.exitCode === null) process.kill(-(start.pid as number), 'SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
