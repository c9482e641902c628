/**
 * An SQS endpoint that accepts connections and never answers (a blackhole, not a refusal):
 * every SQS client of the project gives up after its request timeout, so the local drain
 * fails with the timeout it names instead of hanging.
 */
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { SQS_REQUEST_TIMEOUT_MS } from '../../lambda/aws/sqs-client';
import { sqsClientFor as operatorSqsClient } from '../../lambda/cli/shared';
import { sqsClient as functionSqsClient } from '../../lambda/functions/runtime';
import { startLocalAws } from '../../lambda/local/aws';
import { SqsUnreachableError } from '../../lambda/local/retry';
import { runLocal } from '../../lambda/local/run';
import { sqsClient as localSqsClient } from '../../lambda/local/services';
import { createTestDatabase } from '../helpers/database';
import { snapshotEnv } from '../helpers/env';
import { startTcpProxy } from '../helpers/tcp-proxy';

const env = snapshotEnv();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  env.restore();
});

/** An endpoint that accepts connections and holds every byte. */
async function silentEndpoint(): Promise<string> {
  const aws = await startLocalAws();
  cleanups.push(() => aws.stop());
  const proxy = await startTcpProxy('127.0.0.1', Number(new URL(aws.sqsEndpoint).port));
  cleanups.push(() => proxy.stop());
  proxy.hold();
  return `http://127.0.0.1:${proxy.port}`;
}

const secondsOf = async (call: () => Promise<unknown>) => {
  const started = performance.now();
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, seconds: (performance.now() - started) / 1000 };
};

describe('an SQS endpoint that accepts and never answers', () => {
  it("fails each call of every SQS client (the function's, the operator commands', npm start's) after the request timeout", async () => {
    // Arrange: one attempt per call, so the wait measured is one request timeout.
    const endpoint = await silentEndpoint();
    Object.assign(process.env, {
      AWS_MAX_ATTEMPTS: '1',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_SQS: endpoint,
    });
    const clients: Record<string, SQSClient> = {
      function: functionSqsClient(),
      operator: operatorSqsClient(endpoint),
      local: localSqsClient(endpoint),
    };
    // Act
    const outcomes = await Promise.all(
      Object.values(clients).map((sqs) =>
        secondsOf(() => sqs.send(new GetQueueUrlCommand({ QueueName: 'login-queue' }))),
      ),
    );
    // Assert
    for (const { error, seconds } of outcomes) {
      expect(error).toMatchObject({ name: 'TimeoutError' });
      expect(seconds).toBeGreaterThanOrEqual(SQS_REQUEST_TIMEOUT_MS / 1000 - 0.5);
      expect(seconds).toBeLessThan(SQS_REQUEST_TIMEOUT_MS / 1000 + 5);
    }
  });

  it("ends npm start's drain with the timeout it names when SQS stops answering mid-drain", async () => {
    // Arrange: npm start's pipeline reaches SQS through a link that goes silent mid-drain.
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const aws = await startLocalAws({ visibilityTimeout: 5, maxReceiveCount: 5 });
    cleanups.push(() => aws.stop());
    const link = await startTcpProxy('127.0.0.1', Number(new URL(aws.sqsEndpoint).port));
    cleanups.push(() => link.stop());
    let heldAt = 0;
    // Act
    const outcome = await secondsOf(() =>
      runLocal({
        messages: 600,
        seed: 4,
        batchSize: 25,
        concurrency: 2,
        databaseUrl: db.url,
        sqsEndpoint: `http://127.0.0.1:${link.port}`,
        queueUrl: aws.queueUrl,
        dlqUrl: aws.dlqUrl,
        sqsTimeoutMs: 5_000,
        onProgress: (progress) => {
          if (heldAt > 0 || progress.phase !== 'draining' || progress.delivered < 100) return;
          heldAt = performance.now();
          link.hold();
        },
      }).then(({ services }) => services.stop()),
    );
    // Assert: a bounded failure naming the call and the timeout, within a few request timeouts.
    expect(heldAt).toBeGreaterThan(0);
    expect(outcome.error).toBeInstanceOf(SqsUnreachableError);
    expect((outcome.error as Error).message).toMatch(/^SQS \w+ failed for 5 s \(the timeout\)/);
    expect(performance.now() - heldAt).toBeLessThan(5_000 + 4 * SQS_REQUEST_TIMEOUT_MS);
  }, 120_000);
});
