/**
 * The local event source mapping keeps Lambda's contract over the real SQS protocol:
 * reported failures come back after the visibility timeout, a thrown handler or an unknown
 * id fails the whole batch, and the redrive policy moves messages after maxReceiveCount.
 */
import { ChangeMessageVisibilityCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { TransientError } from '../../lambda/core/errors';
import { type LocalAws, startLocalAws } from '../../lambda/local/aws';
import { OutageError } from '../../lambda/local/breaker';
import { runEventSource } from '../../lambda/local/event-source';
import { SqsUnreachableError } from '../../lambda/local/retry';
import { drainVisible, sqsClientFor } from '../helpers/queues';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

let aws: LocalAws | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.stop();
  await aws?.stop();
  proxy = undefined;
});

async function queueWith(bodies: string[], maxReceiveCount = 5) {
  aws = await startLocalAws({ visibilityTimeout: 1, maxReceiveCount });
  const sqs = sqsClientFor(aws.sqsEndpoint);
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: aws.queueUrl,
      Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })),
    }),
  );
  return { aws, sqs };
}

/** Runs the mapping with `handler` until the queue is empty. */
async function drain(local: LocalAws, handler: (event: SQSEvent) => Promise<SQSBatchResponse>) {
  const sqs = sqsClientFor(local.sqsEndpoint);
  await runEventSource({
    sqs,
    queueUrl: local.queueUrl,
    queueArn: local.queueArn,
    batchSize: 10,
    handlers: [handler],
  });
}

describe('local event source mapping', () => {
  it('deletes what succeeded and redelivers a reported failure after the visibility timeout', async () => {
    const { aws: local, sqs } = await queueWith(['a', 'b', 'c']);
    const seen: { body: string; receiveCount: string }[] = [];
    let failedOnce = false;
    await drain(local, async (event) => {
      for (const r of event.Records)
        seen.push({ body: r.body, receiveCount: r.attributes.ApproximateReceiveCount });
      const b = event.Records.find((r) => r.body === 'b');
      if (b === undefined || failedOnce) return { batchItemFailures: [] };
      failedOnce = true;
      return { batchItemFailures: [{ itemIdentifier: b.messageId }] };
    });
    // Deleted: 'a' did not come back until maxReceiveCount moved it to the DLQ. (A delete
    // slower than the 1 s visibility may let it come once more: SQS is at least once.)
    expect(seen.filter((s) => s.body === 'a').length).toBeLessThan(5);
    expect(await drainVisible(sqs, local.dlqUrl)).toEqual([]);
    // Reported, so received again.
    const b = seen.filter((s) => s.body === 'b').map((s) => s.receiveCount);
    expect(b.slice(0, 2)).toEqual(['1', '2']);
  });

  it('fails the whole batch when the handler throws or names an unknown id, and the DLQ takes them after maxReceiveCount', async () => {
    const { aws: local, sqs } = await queueWith(['x', 'y'], 2);
    let calls = 0;
    await drain(local, async () => {
      calls++;
      if (calls % 2 === 1) throw new Error('boom');
      return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
    });
    const dead = await drainVisible(sqs, local.dlqUrl);
    expect(dead.map((m) => m.Body).sort()).toEqual(['x', 'y']);
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it('with a probe, stops receiving while a dependency is down: no record spends its receives on the outage', async () => {
    // Arrange: visibility 1 s, maxReceiveCount 3, and a dependency down for 8 s whose failures
    // the handler reports as TransientError (as the function does).
    const bodies = Array.from({ length: 10 }, (_, i) => `m${i}`);
    const { aws: local, sqs } = await queueWith(bodies, 3);
    const downUntil = Date.now() + 8_000;
    const isDown = () => Date.now() < downUntil;
    const written = new Set<string>();
    const outages: boolean[] = [];
    let maxReceives = 0;
    // Act
    await runEventSource({
      sqs,
      queueUrl: local.queueUrl,
      queueArn: local.queueArn,
      batchSize: 5,
      batchingWindowMs: 0,
      handlers: [1, 2].map(() => async (event: SQSEvent) => {
        for (const r of event.Records)
          maxReceives = Math.max(maxReceives, Number(r.attributes.ApproximateReceiveCount));
        if (isDown()) throw new TransientError('database down');
        for (const r of event.Records) written.add(r.body);
        return { batchItemFailures: [] };
      }),
      probe: async () => (isDown() ? { service: 'PostgreSQL', reason: 'down' } : undefined),
      onOutage: (outage) => outages.push(outage !== undefined),
    });
    // Assert: every record handled once it was back; none went to the DLQ.
    expect(outages).toContain(true);
    expect(outages.at(-1)).toBe(false);
    expect(written).toEqual(new Set(bodies));
    expect(await drainVisible(sqs, local.dlqUrl)).toEqual([]);
    expect(maxReceives).toBeLessThanOrEqual(3);
  });

  it('with a probe, fails with an OutageError naming the service once the outage outlasts its limit', async () => {
    const { aws: local, sqs } = await queueWith(['a', 'b'], 3);
    const run = runEventSource({
      sqs,
      queueUrl: local.queueUrl,
      queueArn: local.queueArn,
      batchSize: 10,
      handlers: [
        async () => {
          throw new TransientError('database down');
        },
      ],
      probe: async () => ({ service: 'PostgreSQL at 127.0.0.1:1/x', reason: 'ECONNREFUSED' }),
      outageLimitMs: 2_000,
    });
    await expect(run).rejects.toBeInstanceOf(OutageError);
    await expect(run).rejects.toThrow(
      /^PostgreSQL at 127\.0\.0\.1:1\/x did not answer for \d s: ECONNREFUSED$/,
    );
    expect(await drainVisible(sqs, local.dlqUrl)).toEqual([]);
  });

  it("honours a handler's ChangeMessageVisibility as SQS does: no redelivery before it ends", async () => {
    // Arrange: the queue's visibility is 1 s; the handler backs its record off for 3 s, then throws.
    const { aws: local, sqs } = await queueWith(['slow']);
    const deliveries: { at: number; receiveCount: string }[] = [];
    // Act
    await drain(local, async (event) => {
      const [record] = event.Records;
      if (record === undefined) return { batchItemFailures: [] };
      deliveries.push({ at: Date.now(), receiveCount: record.attributes.ApproximateReceiveCount });
      if (deliveries.length > 1) return { batchItemFailures: [] };
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: local.queueUrl,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: 3,
        }),
      );
      throw new Error('dependency down');
    });
    // Assert: (a third delivery may follow if the last delete outlives the 1 s visibility)
    expect(deliveries.slice(0, 2).map((d) => d.receiveCount)).toEqual(['1', '2']);
    const [first, second] = deliveries;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(2_900);
  });

  it('ends the run on a fatal handler error and leaves the messages in the queue', async () => {
    const { aws: local, sqs } = await queueWith(['a', 'b']);
    const fatal = Object.assign(new Error('configuration error: masking secret is not JSON'), {
      name: 'ConfigError',
    });
    const run = runEventSource({
      sqs,
      queueUrl: local.queueUrl,
      queueArn: local.queueArn,
      batchSize: 10,
      handlers: [() => Promise.reject(fatal)],
      isFatal: (error) => (error as Error).name === 'ConfigError',
    });
    await expect(run).rejects.toBe(fatal);
    expect(await drainVisible(sqs, local.dlqUrl)).toEqual([]);
  });

  it('rides through a 1-second SQS outage mid-drain', async () => {
    // Arrange: the mapping reaches SQS through a link we cut for a second.
    const { aws: local } = await queueWith(Array.from({ length: 10 }, (_, i) => `m${i}`));
    const port = Number(new URL(local.sqsEndpoint).port);
    proxy = await startTcpProxy('127.0.0.1', port);
    const link = proxy;
    const sqs = sqsClientFor(`http://127.0.0.1:${link.port}`);
    const handled: string[] = [];
    const retries: string[] = [];
    // Act
    await runEventSource({
      sqs,
      queueUrl: local.queueUrl,
      queueArn: local.queueArn,
      batchSize: 1,
      batchingWindowMs: 0,
      handlers: [
        async (event) => {
          handled.push(...event.Records.map((r) => r.body));
          if (handled.length === 3) {
            await link.cut();
            setTimeout(() => void link.restore(), 1_000);
          }
          return { batchItemFailures: [] };
        },
      ],
      onSqsRetry: (what) => retries.push(what),
    });
    // Assert
    expect(new Set(handled).size).toBe(10);
    expect(retries.length).toBeGreaterThan(0);
  });

  it('fails with the timeout it names when SQS stays unreachable', async () => {
    const { aws: local } = await queueWith(['a']);
    proxy = await startTcpProxy('127.0.0.1', Number(new URL(local.sqsEndpoint).port));
    await proxy.cut();
    const run = runEventSource({
      sqs: sqsClientFor(`http://127.0.0.1:${proxy.port}`),
      queueUrl: local.queueUrl,
      queueArn: local.queueArn,
      batchSize: 10,
      handlers: [async () => ({ batchItemFailures: [] })],
      sqsTimeoutMs: 2_000,
    });
    await expect(run).rejects.toBeInstanceOf(SqsUnreachableError);
    await expect(run).rejects.toThrow(/^SQS ReceiveMessage failed for 2 s \(the timeout\)/);
  });
});
