/**
 * Reading a dead-letter queue without consuming it and without printing bodies: counts by
 * reason (the DeadLetterReason attribute the handler sets; messages moved by the queue's
 * redrive policy after maxReceiveCount have none) and the message ids.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DeadLetterAttribute } from '../dead-letter';

/** Reason shown for messages the redrive policy moved (they carry no reason attribute). */
export const REDRIVEN = 'max_receive_count_exceeded';

export interface DeadLetterPeek {
  readonly total: number;
  readonly byReason: Readonly<Record<string, number>>;
  /** Source message ids by reason (the id the message had in the source queue). */
  readonly messageIds: Readonly<Record<string, readonly string[]>>;
}

/**
 * Receives every visible message, then makes them visible again at once. Messages that
 * another consumer holds in flight are not seen.
 */
export async function peekDeadLetters(sqs: SQSClient, queueUrl: string): Promise<DeadLetterPeek> {
  const seen: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    seen.push(...Messages);
  }
  for (let i = 0; i < seen.length; i += 10) {
    const entries = seen
      .slice(i, i + 10)
      .map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
    );
  }
  const byReason: Record<string, number> = {};
  const messageIds: Record<string, string[]> = {};
  for (const message of seen) {
    const attributes = message.MessageAttributes ?? {};
    const reason = attributes[DeadLetterAttribute.Reason]?.StringValue ?? REDRIVEN;
    const id =
      attributes[DeadLetterAttribute.SourceMessageId]?.StringValue ?? message.MessageId ?? '';
    byReason[reason] = (byReason[reason] ?? 0) + 1;
    messageIds[reason] = [...(messageIds[reason] ?? []), id];
  }
  return { total: seen.length, byReason, messageIds };
}
