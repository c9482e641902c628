/**
 * `npm run send` over the real SQS protocol (fauxqs): a file's bodies onto a queue by name or
 * URL, from a file or stdin, entries SQS fails sent again; and the local loop it closes, the
 * take-home's messages replayed into `npm start --keep`'s queue and drained by `npm start`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SendFailedError, sendBodies } from '../../lambda/cli/send-batches';
import { withClient } from '../../lambda/db/pool';
import { generateBodies } from '../../lambda/local/generate';
import { cleanEnv, parseExportLine, readUntil, runScript, spawnScript } from '../helpers/cli';
import { takeHomeDir } from '../helpers/fixtures';
import { drainVisible, sqsClientFor } from '../helpers/queues';
import { startTcpProxy } from '../helpers/tcp-proxy';

const dir = mkdtempSync(join(tmpdir(), 'login-queue-send-'));
let server: FauxqsServer;
let sqs: SQSClient;
let queueUrl: string;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
  sqs = sqsClientFor(server.address);
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  // A queue of its own for each test.
  queueUrl = server.createQueue(
    `send-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  ).queueUrl;
});

const bodiesIn = async (url = queueUrl) =>
  (await drainVisible(sqs, url)).map((m) => m.Body ?? '').sort();

describe('npm run send', () => {
  it('sends a file of lines to a queue found by name: blank lines skipped, a body that is not JSON sent as it is and said so', async () => {
    // Arrange: 24 bodies over 3 batches, blank lines between, one not JSON.
    const bodies = [...generateBodies(23, { seed: 7, invalidRate: 0 }), 'not json at all'];
    const file = join(dir, 'bodies.jsonl');
    writeFileSync(
      file,
      `${bodies.slice(0, 12).join('\n')}\n\n  \n${bodies.slice(12).join('\r\n')}\n`,
    );
    const name = queueUrl.split('/').pop() ?? '';
    // Act: a local endpoint, and no AWS settings at all.
    const result = await runScript(
      'send',
      [file, '--queue', name],
      cleanEnv({ AWS_ENDPOINT_URL_SQS: server.address }),
    );
    // Assert
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`sent 24 of 24 messages to ${queueUrl}\n`);
    expect(result.stderr).toContain(
      '1 of the 24 bodies are not valid JSON: sent as they are (the pipeline dead-letters them as body.not_json)\n',
    );
    expect(await bodiesIn()).toEqual(bodies.toSorted());
  });

  it('reads a JSON array from stdin (-) and sends it to a queue given by URL', async () => {
    const bodies = generateBodies(3, { seed: 8, invalidRate: 0 });
    const child = spawnScript(
      'send',
      ['-', '--queue', queueUrl, '--sqs-endpoint', server.address],
      cleanEnv(),
    );
    const out = readUntil(child.stdout as NodeJS.ReadableStream, (text) => text.endsWith('\n'));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.stdin?.end(JSON.stringify(bodies.map((body) => JSON.parse(body))));
    expect(await out).toBe(`sent 3 of 3 messages to ${queueUrl}\n`);
    expect(await exited).toBe(0);
    expect((await bodiesIn()).map((body) => JSON.parse(body))).toEqual(
      expect.arrayContaining(bodies.map((body) => JSON.parse(body))),
    );
  });

  it('lists the bodies SQS refuses by their place in the file, sends the rest, and exits 1', async () => {
    // SQS takes no control characters but tab, CR and LF in a body.
    const file = join(dir, 'refused.jsonl');
    writeFileSync(file, '{"a":1}\n{"bad":"\u0001"}\n{"a":3}\n');
    const result = await runScript(
      'send',
      [file, '--queue', queueUrl, '--sqs-endpoint', server.address],
      cleanEnv(),
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(`sent 2 of 3 messages to ${queueUrl}\n`);
    expect(result.stderr).toMatch(
      /SQS refused 1 bodies \(in file order\): #2 InvalidMessageContents\n$/,
    );
    expect(await bodiesIn()).toEqual(['{"a":1}', '{"a":3}']);
  });

  it('fails naming SQS, its endpoint and how far it got, when SQS does not answer (exit 1)', async () => {
    const closed = await startTcpProxy('127.0.0.1', 9);
    await closed.stop();
    const endpoint = `http://127.0.0.1:${closed.port}`;
    const file = join(dir, 'three.jsonl');
    writeFileSync(file, '{"a":1}\n{"a":2}\n{"a":3}\n');
    const result = await runScript(
      'send',
      [file, '--queue', `${endpoint}/000000000000/login-queue`],
      cleanEnv(),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^send failed: SQS at ${endpoint}: SendMessageBatch failed 5 times: .*ECONNREFUSED.*; sent 0 of 3, the first not sent is body #1 in file order\\n$`,
        'm',
      ),
    );
    expect(result.stdout).toBe('');
  });

  it('is a usage error without a file, or with one it cannot read', async () => {
    const none = await runScript('send', [], cleanEnv());
    expect(none).toMatchObject({ code: 2 });
    expect(none.stderr).toBe('send: give a FILE of message bodies (- for stdin) (see --help)\n');
    const missing = await runScript('send', [join(dir, 'nope.jsonl')], cleanEnv());
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toContain('cannot read');
  });
});

describe('sendBodies when SQS fails some entries', () => {
  /** The real client, except that its first SendMessageBatch fails the first two entries. */
  function failingFirst(codes: readonly { senderFault: boolean; code: string }[]): SQSClient {
    let first = true;
    return {
      send: async (command: SendMessageBatchCommand): Promise<SendMessageBatchCommandOutput> => {
        if (!first) return sqs.send(command);
        first = false;
        const entries = command.input.Entries ?? [];
        const failed = entries.slice(0, codes.length);
        const reply = await sqs.send(
          new SendMessageBatchCommand({ ...command.input, Entries: entries.slice(codes.length) }),
        );
        return {
          ...reply,
          Failed: failed.map((entry, i) => ({
            Id: entry.Id,
            SenderFault: codes[i]?.senderFault,
            Code: codes[i]?.code,
          })),
        };
      },
    } as unknown as SQSClient;
  }

  it("sends again an entry SQS failed on its side, and reports one it refused as the sender's fault", async () => {
    // Arrange
    const bodies = generateBodies(12, { seed: 9, invalidRate: 0 });
    const client = failingFirst([
      { senderFault: false, code: 'InternalError' },
      { senderFault: true, code: 'InvalidMessageContents' },
    ]);
    // Act
    const result = await sendBodies(client, queueUrl, bodies, { backoffMs: () => 10 });
    // Assert: body 0 sent on the second try, body 1 refused, every other once.
    expect(result).toEqual({
      sent: 11,
      refused: [{ index: 1, code: 'InvalidMessageContents' }],
      retried: 1,
    });
    expect(await bodiesIn()).toEqual(bodies.filter((_, i) => i !== 1).sort());
  });

  it('gives up on a batch that fails every attempt, saying what was sent', async () => {
    const bodies = generateBodies(15, { seed: 10, invalidRate: 0 });
    let calls = 0;
    const client = {
      send: async (command: SendMessageBatchCommand) => {
        calls++;
        if (calls === 1) return sqs.send(command);
        throw Object.assign(new Error('socket hang up'), { $fault: 'server' });
      },
    } as unknown as SQSClient;
    const sending = sendBodies(client, queueUrl, bodies, { attempts: 3, backoffMs: () => 10 });
    await expect(sending).rejects.toBeInstanceOf(SendFailedError);
    await expect(sending).rejects.toMatchObject({
      sent: 10,
      firstUnsent: 10,
      message: 'SendMessageBatch failed 3 times: socket hang up',
    });
    expect(calls).toBe(4);
    expect(await bodiesIn()).toHaveLength(10);
  });
});

describe("npm start --keep's SQS in place of LocalStack", () => {
  it("takes the take-home's messages from npm run send, and npm start drains them: 99 rows, 1 dead-lettered", async ({
    skip,
  }) => {
    // Arrange: the services, left running with nothing sent.
    const fixtures = takeHomeDir(skip);
    const start = spawnScript('start', ['--keep', '--messages', '0'], cleanEnv());
    const exited = new Promise<number | null>((resolve) => start.once('exit', resolve));
    try {
      const printed = await readUntil(start.stdout as NodeJS.ReadableStream, (text) =>
        /\n {2}npm start +drains/.test(text),
      );
      const exportLine = printed.split('\n').find((line) => line.startsWith('  export ')) ?? '';
      const env = cleanEnv(parseExportLine(exportLine));
      // Act: the README's commands, in the shell that pasted the export line.
      const sent = await runScript('send', ['messages.jsonl'], env, fixtures);
      const drained = await runScript('start', [], env);
      // Assert
      expect(sent.code, sent.stderr).toBe(0);
      expect(sent.stdout).toBe(`sent 100 of 100 messages to ${env.QUEUE_URL}\n`);
      expect(drained.code, drained.stderr).toBe(0);
      expect(drained.stdout).toMatch(/rows written +99\b/);
      expect(drained.stdout).toMatch(/dead-lettered by this run \(messages\) +1\b/);
      const { rows } = await withClient(env.DATABASE_URL ?? '', (client) =>
        client.query('SELECT count(*)::int AS n FROM user_logins'),
      );
      expect(rows).toEqual([{ n: 99 }]);
    } finally {
      start.kill('SIGINT');
    }
    // Ctrl-C ends the kept session: a clean stop, exit 130.
    expect(await exited).toBe(130);
  }, 300_000);
});
