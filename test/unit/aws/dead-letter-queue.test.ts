import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSqsDeadLetterQueue,
  type DeadLetterFailure,
  type DeadLetterItem,
  fitAttributes,
  messageBytes,
} from '../../../lambda/aws/dead-letter-queue';

const sqs = mockClient(SQSClient);
afterEach(() => sqs.reset());

const item = (messageId: string, body = 'not json'): DeadLetterItem => ({
  messageId,
  sourceMessageId: messageId,
  marker: `k1:${'m'.repeat(43)}`,
  body,
  reason: 'body.not_json',
  detail: 'body is not valid JSON',
});

const AT = '2026-11-23T20:00:00.000Z';

function queue(failures: DeadLetterFailure[], trimmed: [string, readonly string[]][] = []) {
  sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { MaximumMessageSize: '1048576' } });
  return createSqsDeadLetterQueue(new SQSClient({}), 'http://local/dlq', {
    onFailure: (failure) => failures.push(failure),
    onTrimmed: (id, dropped) => trimmed.push([id, dropped]),
    retryDelayMs: (attempt) => (attempt <= 3 ? 0 : undefined),
  });
}

describe('dead-letter attributes at the maximum message size', () => {
  const all = fitAttributes(item('m'), AT, Number.MAX_SAFE_INTEGER).attributes;
  const reasonOnly = messageBytes('', {
    DeadLetterReason: { DataType: 'String', StringValue: 'body.not_json' },
  });

  it('keeps every attribute when they fit exactly', () => {
    const limit = messageBytes('x'.repeat(1000), all);
    const { attributes, dropped } = fitAttributes(item('m', 'x'.repeat(1000)), AT, limit);
    expect(Object.keys(attributes).sort()).toEqual(Object.keys(all).sort());
    expect(dropped).toEqual([]);
  });

  it('keeps the reason alone when the body plus the reason is exactly the limit', () => {
    const limit = 1_048_576;
    const body = 'x'.repeat(limit - reasonOnly);
    const { attributes, dropped } = fitAttributes(item('m', body), AT, limit);
    expect(Object.keys(attributes)).toEqual(['DeadLetterReason']);
    expect(messageBytes(body, attributes)).toBe(limit);
    expect(dropped).toEqual([
      'SourceMessageId',
      'SourceMessageSignature',
      'DeadLetterDetail',
      'DeadLetteredAt',
    ]);
  });

  it('sends a body of exactly the limit with no attribute, one byte over the reason', () => {
    const limit = 1_048_576;
    expect(fitAttributes(item('m', 'x'.repeat(limit)), AT, limit).attributes).toEqual({});
    const oneOver = 'x'.repeat(limit - reasonOnly + 1);
    expect(Object.keys(fitAttributes(item('m', oneOver), AT, limit).attributes)).toEqual([]);
  });
});

describe('SQS dead-letter queue', () => {
  it('retries an entry SQS failed on its side and logs why, then sends it', async () => {
    // Arrange
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'd0', MD5OfMessageBody: '' }],
        Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false, Message: 'try again' }],
      })
      .resolves({ Successful: [{ Id: '0', MessageId: 'd1', MD5OfMessageBody: '' }] });
    const failures: DeadLetterFailure[] = [];
    // Act
    const failed = await queue(failures).send([item('a'), item('b')]);
    // Assert
    expect(failed.size).toBe(0);
    expect(failures).toEqual([
      {
        messageIds: ['b'],
        code: 'InternalError',
        message: 'try again',
        senderFault: false,
        retrying: true,
      },
    ]);
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls[1]?.args[0].input.Entries?.map((e) => e.MessageBody)).toEqual(['not json']);
  });

  it('does not retry a sender fault, and logs it as final', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Failed: [{ Id: '0', Code: 'InvalidParameterValue', SenderFault: true, Message: 'too long' }],
    });
    const failures: DeadLetterFailure[] = [];
    const failed = await queue(failures).send([item('a')]);
    expect([...failed]).toEqual(['a']);
    expect(failures).toMatchObject([{ code: 'InvalidParameterValue', retrying: false }]);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it('rides through a request that throws, and gives up after three attempts', async () => {
    const reset = Object.assign(new Error('write ECONNRESET'), { name: 'Error' });
    sqs.on(SendMessageBatchCommand).rejectsOnce(reset).resolves({ Successful: [] });
    const failures: DeadLetterFailure[] = [];
    expect((await queue(failures).send([item('a')])).size).toBe(0);
    expect(failures).toMatchObject([{ message: 'write ECONNRESET', retrying: true }]);

    sqs.reset();
    sqs.on(SendMessageBatchCommand).rejects(reset);
    const more: DeadLetterFailure[] = [];
    expect([...(await queue(more).send([item('b')]))]).toEqual(['b']);
    expect(more.map((f) => f.retrying)).toEqual([true, true, false]);
  });

  it('sends an oversized body with the attributes that fit, and reports the rest', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [] });
    const trimmed: [string, readonly string[]][] = [];
    await queue([], trimmed).send([item('big', 'x'.repeat(1_048_576 - 40))]);
    const [entry] = sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries ?? [];
    expect(Object.keys(entry?.MessageAttributes ?? {})).toEqual(['DeadLetterReason']);
    expect(trimmed).toEqual([
      ['big', ['SourceMessageId', 'SourceMessageSignature', 'DeadLetterDetail', 'DeadLetteredAt']],
    ]);
  });
});
