/**
 * The local event source mapping keeps Lambda's contract over the real SQS protocol:
 * reported failures come back after the visibility timeout, a thrown handler or an unknown
 * id fails the whole batch, and the redrive policy moves messages after maxReceiveCount.
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalAws, startLocalAws } from '../../lambda/local/aws';
import { runEventSource } from '../../lambda/local/event-source';
import { drainVisible, sqsClientFor } from '../helpers/queues';

let aws: LocalAws | undefined;
afterEach(async () => {
  await aws?.stop();
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
    const { aws: local } = await queueWith(['a', 'b', 'c']);
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
    expect(seen.filter((s) => s.body === 'a')).toHaveLength(1);
    expect(seen.filter((s) => s.body === 'b').map((s) => s.receiveCount)).toEqual(['1', '2']);
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
});
