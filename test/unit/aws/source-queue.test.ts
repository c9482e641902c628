import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqsSourceQueue, queueUrlOfArn } from '../../../lambda/aws/source-queue';

const sqs = mockClient(SQSClient);
afterEach(() => sqs.reset());

const ARN = 'arn:aws:sqs:eu-west-1:123456789012:login-queue';
const entries = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    messageId: `m${i}`,
    receiptHandle: `r${i}`,
    queueArn: ARN,
    seconds: 120,
  }));

describe('source queue', () => {
  it('derives the queue URL from the record ARN', () => {
    expect(queueUrlOfArn(ARN)).toBe('https://sqs.eu-west-1.amazonaws.com/123456789012/login-queue');
    expect(() => queueUrlOfArn('not-an-arn')).toThrow('not an SQS queue ARN');
  });

  it('extends visibility ten entries per request, at the configured URL when one is set', async () => {
    // Arrange
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
    const queue = createSqsSourceQueue(new SQSClient({}), 'http://local/q', () => {});
    // Act
    const failed = await queue.extendVisibility(entries(23));
    // Assert
    expect(failed.size).toBe(0);
    const calls = sqs.commandCalls(ChangeMessageVisibilityBatchCommand);
    expect(calls.map((call) => call.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(calls[0]?.args[0].input).toMatchObject({
      QueueUrl: 'http://local/q',
      Entries: expect.arrayContaining([{ Id: '0', ReceiptHandle: 'r0', VisibilityTimeout: 120 }]),
    });
  });

  it('reports and logs the entries SQS refused and the requests that failed', async () => {
    sqs
      .on(DeleteMessageBatchCommand)
      .resolvesOnce({ Failed: [{ Id: '1', Code: 'ReceiptHandleIsInvalid', SenderFault: true }] })
      .rejects(Object.assign(new Error('reset'), { name: 'ECONNRESET' }));
    const logged: [string, string[]][] = [];
    const queue = createSqsSourceQueue(new SQSClient({}), undefined, (action, _error, ids) =>
      logged.push([action, [...ids]]),
    );
    const failed = await queue.delete(entries(12));
    expect([...failed].sort()).toEqual(['m1', 'm10', 'm11']);
    expect(logged).toEqual([
      ['delete', ['m1']],
      ['delete', ['m10', 'm11']],
    ]);
    expect(sqs.commandCalls(DeleteMessageBatchCommand)[0]?.args[0].input.QueueUrl).toBe(
      'https://sqs.eu-west-1.amazonaws.com/123456789012/login-queue',
    );
  });
});
