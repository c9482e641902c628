/**
 * Dead-letter queue tools. Reading a dead-letter queue without consuming it and without printing bodies: counts by
 * reason (the DeadLetterReason attribute the handler sets; messages moved by the queue's
 * redrive policy after maxReceiveCount have none) and the message ids.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
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

export interface RedriveTarget {
  readonly dlqUrl: string;
  readonly dlqArn: string;
  readonly queueUrl: string;
  readonly queueArn: string;
}

export interface RedriveResult {
  readonly method: 'StartMessageMoveTask' | 'receive-send-delete';
  /** Messages moved (the move task reports its own progress in SQS). */
  readonly moved: number;
  readonly taskHandle?: string;
}

/**
 * Moves dead-lettered messages back to the source queue. Uses SQS StartMessageMoveTask where
 * the endpoint supports it; otherwise receives, sends (with SourceMessageId kept, the reason
 * attributes dropped) and deletes each only after its send succeeded. A message whose delete
 * fails is sent again later, and SourceMessageId makes that copy a duplicate the handler
 * ignores: every message lands once.
 */
export async function redrive(
  sqs: SQSClient,
  target: RedriveTarget,
  onMoved?: (moved: number) => void,
): Promise<RedriveResult> {
  try {
    const task = await sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: target.dlqArn,
        DestinationArn: target.queueArn,
      }),
    );
    return { method: 'StartMessageMoveTask', moved: 0, taskHandle: task.TaskHandle };
  } catch (error) {
    if (!isUnsupported(error)) throw error;
  }
  let moved = 0;
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: target.dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return { method: 'receive-send-delete', moved };
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: target.queueUrl,
        Entries: Messages.map((message, i) => ({
          Id: String(i),
          MessageBody: message.Body ?? '',
          MessageAttributes: {
            [DeadLetterAttribute.SourceMessageId]: {
              DataType: 'String',
              StringValue:
                message.MessageAttributes?.[DeadLetterAttribute.SourceMessageId]?.StringValue ??
                message.MessageId ??
                '',
            },
          },
        })),
      }),
    );
    const delivered = (sent.Successful ?? [])
      .map((entry) => Messages[Number(entry.Id)])
      .filter((m) => m !== undefined);
    if (delivered.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: target.dlqUrl,
          Entries: delivered.map((message, i) => ({
            Id: String(i),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
    }
    moved += delivered.length;
    onMoved?.(moved);
  }
}

/** The endpoint does not implement the API (emulators answer InvalidAction), as opposed to a real failure. */
function isUnsupported(error: unknown): boolean {
  const { name, $metadata } = (error ?? {}) as {
    name?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = $metadata?.httpStatusCode;
  return (
    name === 'InvalidAction' ||
    name === 'UnsupportedOperation' ||
    name === 'UnknownOperationException' ||
    status === 404 ||
    status === 501
  );
}
