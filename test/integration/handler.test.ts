import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../lambda/local/aws';
import { loadBundleModule, localContext, type SqsHandler } from '../../lambda/local/bundle';
import { generateBodies } from '../../lambda/local/generate';
import type { TestDatabase } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { takeHomeBodies } from '../helpers/fixtures';
import { type Pipeline, startPipeline } from '../helpers/pipeline';
import { drainVisible, sqsClientFor } from '../helpers/queues';
import { loginBody, sqsEvent } from '../helpers/sqs';

const env = snapshotEnv();
let pipeline: Pipeline;
let db: TestDatabase;
let aws: LocalAws;
let handler: SqsHandler;

beforeAll(async () => {
  pipeline = await startPipeline();
  ({ db, aws, handler } = pipeline);
});

afterAll(async () => {
  await pipeline?.stop();
  env.restore();
});

beforeEach(() => pipeline.reset());

describe('the bundled handler on the take-home data set', () => {
  it('writes 99 rows and dead-letters the malformed body with its reason', async ({ skip }) => {
    // Arrange
    const event = sqsEvent(takeHomeBodies(skip));
    // Act
    const response = await handler(event, localContext());
    // Assert
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await db.count()).toBe(99);
    const dead = await drainVisible(sqsClientFor(aws.sqsEndpoint), aws.dlqUrl);
    expect(dead).toHaveLength(1);
    expect(dead[0]?.Body).toBe('{"foo": "oops_wrong_msg_type", "bar": "123"}');
    expect(dead[0]?.MessageAttributes?.DeadLetterReason?.StringValue).toBe('user_id.missing');
    expect(dead[0]?.MessageAttributes?.SourceMessageId?.StringValue).toBe(
      event.Records[12]?.messageId,
    );
  });

  it('keeps 99 rows when the same batch is delivered twice', async ({ skip }) => {
    const event = sqsEvent(takeHomeBodies(skip).filter((_, i) => i !== 12));
    await handler(event, localContext());
    const again = await handler(event, localContext());
    expect(again).toEqual({ batchItemFailures: [] });
    expect(await db.count()).toBe(99);
  });

  it('writes every record of a large redelivered batch that also holds new ones', async () => {
    // Large enough that the COPY fails on the duplicate while the socket is still busy.
    const bodies = generateBodies(5_000, { seed: 3, invalidRate: 0 });
    const first = sqsEvent(bodies);
    await handler(first, localContext());
    const mixed = {
      Records: [
        ...first.Records,
        ...sqsEvent(generateBodies(100, { seed: 4, invalidRate: 0 })).Records,
      ],
    };
    const response = await handler(mixed, localContext());
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await db.count()).toBe(5_100);
  });

  it('stores masked tokens, the key id, the encoded version and the sent date', async ({
    skip,
  }) => {
    const event = sqsEvent([takeHomeBodies(skip)[0] as string]);
    await handler(event, localContext());
    const { rows } = await db.pool.query('SELECT * FROM user_logins');
    expect(rows[0]).toMatchObject({
      message_id: event.Records[0]?.messageId,
      user_id: '424cdd21-063a-43a7-b91b-7ca1a833afae',
      device_type: 'android',
      locale: 'RU',
      app_version: 2_003_000,
      app_version_raw: '2.3.0',
      key_id: 'k1',
    });
    expect(rows[0].masked_ip).toMatch(/^k1:[\w-]{43}$/);
    expect(rows[0].create_date.toISOString?.() ?? rows[0].create_date).toContain('2026-11-2');
    expect(JSON.stringify(rows)).not.toContain('199.172.111.135');
    expect(JSON.stringify(rows)).not.toContain('593-47-5928');
  });
});

describe('dead-lettering', () => {
  it('sends many invalid bodies, large ones included, within the SQS batch limits', async () => {
    // 25 bodies need several SendMessageBatch calls (10 entries, 256 KiB at most each).
    const large = JSON.stringify({ padding: 'x'.repeat(100_000) });
    const bodies = [...Array.from({ length: 22 }, (_, i) => `not json ${i}`), large, large, large];
    const response = await handler(sqsEvent(bodies), localContext());
    expect(response).toEqual({ batchItemFailures: [] });
    const dead = await drainVisible(sqsClientFor(aws.sqsEndpoint), aws.dlqUrl);
    expect(dead).toHaveLength(25);
    expect(dead.filter((m) => m.Body === large)).toHaveLength(3);
  });
});

describe('duplicate detection', () => {
  it('gives equal tokens to an ip or device id shared by different users', async () => {
    const event = sqsEvent([
      loginBody({ user_id: 'alice', ip: '198.51.100.7', device_id: 'shared-device' }),
      loginBody({ user_id: 'bob', ip: '198.51.100.7', device_id: 'other-device' }),
      loginBody({ user_id: 'carol', ip: '::ffff:198.51.100.7', device_id: ' shared-device ' }),
    ]);
    await handler(event, localContext());
    const { rows } = await db.pool.query(
      'SELECT count(DISTINCT masked_ip)::int AS ips, count(DISTINCT masked_device_id)::int AS devices FROM user_logins',
    );
    expect(rows[0]).toEqual({ ips: 1, devices: 2 });
  });
});

describe('logs', () => {
  it('never print a raw body, ip or device id, even at debug level', async ({ skip }) => {
    // Arrange: a fresh container logging everything, and a capture of stdout/stderr.
    const verbose = loadBundleModule({ POWERTOOLS_LOG_LEVEL: 'DEBUG' });
    const bodies = takeHomeBodies(skip);
    const printed: string[] = [];
    const capture = (chunk: unknown) => {
      printed.push(String(chunk));
      return true;
    };
    const [out, err] = [process.stdout.write, process.stderr.write];
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    // Act
    try {
      await verbose.handler(sqsEvent(bodies), localContext());
    } finally {
      [process.stdout.write, process.stderr.write] = [out, err];
      // Its connection closes now, not when the database is dropped under it.
      await verbose.close();
    }
    // Assert
    const logs = printed.join('');
    expect(logs).toContain('batch processed');
    for (const body of bodies) {
      const parsed = JSON.parse(body) as Record<string, string>;
      for (const raw of [body, parsed.ip, parsed.device_id].filter(Boolean)) {
        expect(logs).not.toContain(raw);
      }
    }
  });

  it("keep the SQS error's message on a failed dead-letter send", async () => {
    // Arrange: a container whose DLQ does not exist, and a capture of its log lines.
    const container = loadBundleModule({
      DLQ_URL: `${aws.sqsEndpoint}/000000000000/no-such-dlq`,
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    const printed: string[] = [];
    const [out, err] = [process.stdout.write, process.stderr.write];
    process.stdout.write = process.stderr.write = ((chunk: unknown) => {
      printed.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    }) as typeof process.stdout.write;
    // Act
    try {
      await container.handler(sqsEvent(['not json']), localContext());
    } finally {
      [process.stdout.write, process.stderr.write] = [out, err];
      await container.close();
    }
    // Assert: each failure line says why SQS refused, not only the error's class.
    const failures = printed
      .filter((line) => line.includes('dead-letter send failed'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(failures.length).toBeGreaterThan(0);
    for (const line of failures) expect(line.errorMessage).toMatch(/queue.*does not exist/i);
  });
});
