/**
 * A PostgreSQL outage on a small queue, through `npm start` as a user runs it, at the settings
 * it gives its own queue (visibility 2 s, maxReceiveCount 3): the event source stops
 * receiving while the database does not answer, so no valid record spends its receives on
 * the outage; past --outage-limit the run fails with one line naming the database.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { peekDeadLetters, REDRIVEN } from '../../lambda/aws/dead-letters';
import { queueDepth } from '../../lambda/aws/source-queue';
import { startLocalAws } from '../../lambda/local/aws';
import { cleanEnv, spawnScript } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { sqsClientFor } from '../helpers/queues';
import { proxyDatabase, type TcpProxy } from '../helpers/tcp-proxy';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// Longer than maxReceiveCount x visibility plus the handler's backoff (2 s, 6 s, then more):
// without the breaker, 20 s dead-lettered a fifth of 2,000 valid records.
const OUTAGE_MS = 30_000;

async function proxiedDatabase(): Promise<{ db: TestDatabase; proxy: TcpProxy; url: string }> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const { proxy, url } = await proxyDatabase(db.url);
  cleanups.push(() => proxy.stop());
  return { db, proxy, url };
}

function keysFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'login-queue-outage-keys-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'keys.json');
}

/** Runs npm start; cuts the database at the first draining line; resolves on exit. */
function startWithOutage(args: string[], proxy: TcpProxy, outageMs: number | undefined) {
  const child: ChildProcess = spawnScript('start', args, cleanEnv());
  cleanups.push(async () => child.kill('SIGKILL'));
  let stdout = '';
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  let stderrText = '';
  child.stderr?.on('data', (chunk) => {
    stderrText += String(chunk);
  });
  let cut = false;
  const outage = new Promise<number>((resolve) => {
    child.stderr?.on('data', () => {
      if (cut || !stderrText.includes('  draining')) return;
      cut = true;
      const cutAt = Date.now();
      void proxy.cut().then(() => {
        if (outageMs === undefined) return;
        setTimeout(() => {
          void proxy.restore().then(() => resolve(Date.now() - cutAt));
        }, outageMs);
      });
    });
  });
  const exit = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return { exit, outage, stdout: () => stdout, stderr: () => stderrText };
}

/** A number from npm start's summary table, by its label. */
function summaryNumber(stdout: string, label: string): number {
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith(label));
  if (line === undefined) throw new Error(`no "${label}" in:\n${stdout}`);
  return Number(
    line
      .slice(line.indexOf(label) + label.length)
      .trim()
      .split(/\s+/)[0]
      ?.replaceAll(',', ''),
  );
}

describe('npm start with PostgreSQL down mid-drain, on its own small queue', () => {
  it('stops receiving while PostgreSQL does not answer, says so, and ends with exit 0: every valid message one row, none dead-lettered', async () => {
    // Arrange: npm start's embedded queue (visibility 2 s, maxReceiveCount 3), its database behind a proxy.
    const { db, proxy, url } = await proxiedDatabase();
    // Act
    const run = startWithOutage(
      ['--messages', '1000', '--database-url', url, '--keys-file', keysFile()],
      proxy,
      OUTAGE_MS,
    );
    const code = await run.exit;
    const outageMs = await Promise.race([run.outage, Promise.resolve(0)]);
    // Assert: the outage happened and the progress line said so, naming the database.
    expect(outageMs).toBeGreaterThanOrEqual(OUTAGE_MS);
    const address = `127\\.0\\.0\\.1:${proxy.port}${new URL(url).pathname}`;
    expect(run.stderr()).toMatch(
      new RegExp(
        `waiting {3}PostgreSQL at ${address}: not answering \\(.+\\), records back off \\(\\d+ s\\)`,
      ),
    );
    expect(code, run.stderr()).toBe(0);
    // Every message has one fate: a row, or (invalid) the DLQ; none moved by the redrive policy.
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS ids FROM user_logins',
    );
    const deadLettered = summaryNumber(run.stdout(), 'dead-lettered by this run (messages)');
    expect(rows[0]).toEqual({ n: 1000 - deadLettered, ids: 1000 - deadLettered });
    expect(deadLettered).toBeGreaterThan(0);
    expect(deadLettered).toBeLessThan(150);
    expect(run.stdout()).not.toContain(REDRIVEN);
  }, 300_000);

  it('past --outage-limit ends with exit 1 and one line naming PostgreSQL, its address, how long, and the messages waiting', async () => {
    // Arrange: an SQS endpoint with npm start's queue settings and 300 messages; the database behind a proxy.
    const { proxy, url } = await proxiedDatabase();
    const aws = await startLocalAws({ visibilityTimeout: 2, maxReceiveCount: 3 });
    cleanups.push(() => aws.stop());
    const args = [
      '--messages',
      '300',
      '--sqs-endpoint',
      aws.sqsEndpoint,
      '--queue-url',
      aws.queueUrl,
      '--dlq-url',
      aws.dlqUrl,
      '--database-url',
      url,
      '--keys-file',
      keysFile(),
      '--outage-limit',
      '10',
    ];
    // Act: the database never comes back.
    const run = startWithOutage(args, proxy, undefined);
    const code = await run.exit;
    // Assert
    expect(code).toBe(1);
    const last = run.stderr().trim().split('\n').at(-1) ?? '';
    const address = `127\\.0\\.0\\.1:${proxy.port}${new URL(url).pathname}`;
    const match = new RegExp(
      `^npm start failed: PostgreSQL at ${address} did not answer for (\\d+) s \\(the outage limit is 10 s\\): .+; ([\\d,]+) messages wait in the queue, none dead-lettered for the outage$`,
    ).exec(last);
    expect(match, last).not.toBeNull();
    expect(Number(match?.[1])).toBeGreaterThanOrEqual(10);
    expect(Number(match?.[1])).toBeLessThan(30);
    const password = new URL(url).password;
    if (password) expect(last).not.toContain(password);
    const sqs = sqsClientFor(aws.sqsEndpoint);
    const waiting = Number(match?.[2]?.replaceAll(',', ''));
    expect(waiting).toBeGreaterThan(0);
    expect(await queueDepth(sqs, aws.queueUrl)).toBe(waiting);
    const dead = await peekDeadLetters(sqs, aws.dlqUrl);
    expect(dead.byReason[REDRIVEN]).toBeUndefined();
  }, 300_000);
});
