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
import { DeadLetterAttribute } from './dead-letter-queue';

/** Reason shown for messages the redrive policy moved (they carry no reason attribute). */
export const REDRIVEN = 'max_receive_count_exceeded';

export interface DeadLetterPeek {
  readonly total: number;
  readonly byReason: Readonly<Record<string, number>>;
  /** Source message ids by reason (the id the message had in the source queue). */
  readonly messageIds: Readonly<Record<string, readonly string[]>>;
  /** Source message ids held more than once (e.g. dead-lettered again after a crash), with their copies. */
  readonly duplicates: Readonly<Record<string, number>>;
}

/** The id a dead letter had in the source queue (as its attributes claim; for display). */
const sourceIdOf = (message: Message) =>
  message.MessageAttributes?.[DeadLetterAttribute.SourceMessageId]?.StringValue ??
  message.MessageId ??
  '';

/**
 * Equal for copies of one message: the pipeline's marker with the body's digest, else the
 * message id. A producer's own SourceMessageId (no marker) never merges two messages.
 */
function copyKey(message: Message): string {
  const attributes = message.MessageAttributes ?? {};
  const marker = attributes[DeadLetterAttribute.Signature]?.StringValue;
  const id = attributes[DeadLetterAttribute.SourceMessageId]?.StringValue;
  return marker && id ? `${id}\n${marker}\n${message.MD5OfBody ?? ''}` : `${message.MessageId}`;
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
  const copies = new Map<string, { id: string; n: number }>();
  for (const message of seen) {
    const attributes = message.MessageAttributes ?? {};
    const reason = attributes[DeadLetterAttribute.Reason]?.StringValue ?? REDRIVEN;
    const id = sourceIdOf(message);
    byReason[reason] = (byReason[reason] ?? 0) + 1;
    messageIds[reason] = [...(messageIds[reason] ?? []), id];
    const key = copyKey(message);
    copies.set(key, { id, n: (copies.get(key)?.n ?? 0) + 1 });
  }
  const duplicates = Object.fromEntries(
    [...copies.values()].filter(({ n }) => n > 1).map(({ id, n }) => [id, n]),
  );
  return { total: seen.length, byReason, messageIds, duplicates };
}

/** Some runs' dead letters, told from the queue's total (other runs', earlier ones'). */
export interface OwnDeadLetters {
  /** Distinct source messages in the DLQ. */
  readonly messages: number;
  /** Further copies of them (a message dead-lettered again after a redelivery). */
  readonly copies: number;
  /** Distinct messages by reason. */
  readonly byReason: Readonly<Record<string, number>>;
}

/** The dead letters of a peek whose source message id is in `ids`: distinct, and copies apart. */
export function deadLettersAmong(peek: DeadLetterPeek, ids: ReadonlySet<string>): OwnDeadLetters {
  const byReason: Record<string, number> = {};
  const seen = new Set<string>();
  let entries = 0;
  for (const [reason, sourceIds] of Object.entries(peek.messageIds)) {
    for (const id of sourceIds) {
      if (!ids.has(id)) continue;
      entries++;
      if (seen.has(id)) continue;
      seen.add(id);
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    }
  }
  return { messages: seen.size, copies: entries - seen.size, byReason };
}

/** What a redrive now would move (`--dry-run`); nothing was moved. */
export interface RedrivePreview {
  readonly dryRun: true;
  /** Messages visible in the DLQ now. */
  readonly messages: number;
  /** Of them, further copies of a message: a redrive deletes them instead of sending them. */
  readonly copies: number;
  /** What a redrive (receive, send, delete) would send back: messages less copies. */
  readonly wouldMove: number;
  readonly byReason: Readonly<Record<string, number>>;
}

/**
 * Counts, as peekDeadLetters does (every message visible again at the end), what redrive would
 * send back and what it would delete as copies.
 */
export async function previewRedrive(sqs: SQSClient, dlqUrl: string): Promise<RedrivePreview> {
  const peek = await peekDeadLetters(sqs, dlqUrl);
  const copies = Object.values(peek.duplicates).reduce((sum, n) => sum + n - 1, 0);
  return {
    dryRun: true,
    messages: peek.total,
    copies,
    wouldMove: peek.total - copies,
    byReason: peek.byReason,
  };
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
  /** Further copies of a source message already moved: deleted, not sent. */
  readonly duplicatesDropped: number;
  readonly taskHandle?: string;
}

export interface RedriveOptions {
  /**
   * Signs a redrive marker (redrive-marker.ts) for a message that has none (moved by the
   * redrive policy); without it such a message returns as a new message.
   */
  readonly sign?: (sourceMessageId: string, sentTimestamp?: string) => string;
  /** Told the running count of messages moved, after each batch. */
  readonly onMoved?: (moved: number) => void;
}

/**
 * Moves dead-lettered messages back to the source queue: receives, sends (with SourceMessageId,
 * SourceSentTimestamp and the marker kept, the reason attributes dropped) and deletes each only
 * after its send succeeded. SQS StartMessageMoveTask gives every moved message a new id and
 * send time (SQS Developer Guide, "configure dead-letter queue redrive"), so a message the
 * redrive policy moved (no marker) would come back as a new message under a new date: it is
 * used only without `sign`, where that is the outcome anyway, and where the endpoint has it. Of several copies of one source message, one is sent and the rest deleted. A
 * message whose delete fails is sent again later, and its marker makes that copy a duplicate
 * the handler ignores: every message lands once.
 */
export async function redrive(
  sqs: SQSClient,
  target: RedriveTarget,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  if (options.sign === undefined) {
    try {
      const task = await sqs.send(
        new StartMessageMoveTaskCommand({
          SourceArn: target.dlqArn,
          DestinationArn: target.queueArn,
        }),
      );
      return {
        method: 'StartMessageMoveTask',
        moved: 0,
        duplicatesDropped: 0,
        taskHandle: task.TaskHandle,
      };
    } catch (error) {
      if (!isUnsupported(error)) throw error;
    }
  }
  let moved = 0;
  let duplicatesDropped = 0;
  const sentIds = new Set<string>();
  const remove = async (messages: readonly Message[]) => {
    if (messages.length === 0) return;
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: target.dlqUrl,
        Entries: messages.map((message, i) => ({
          Id: String(i),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
  };
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: target.dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
        // A standard queue's DLQ keeps the first send's time: it dates an unmarked message.
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );
    if (Messages.length === 0) return { method: 'receive-send-delete', moved, duplicatesDropped };
    const fresh: Message[] = [];
    const copies: Message[] = [];
    for (const message of Messages) {
      const key = copyKey(message);
      if (sentIds.has(key)) copies.push(message);
      else {
        sentIds.add(key);
        fresh.push(message);
      }
    }
    await remove(copies);
    duplicatesDropped += copies.length;
    if (fresh.length === 0) continue;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: target.queueUrl,
        Entries: fresh.map((message, i) => ({
          Id: String(i),
          MessageBody: message.Body ?? '',
          MessageAttributes: identityAttributes(message, options.sign),
        })),
      }),
    );
    const delivered = (sent.Successful ?? [])
      .map((entry) => fresh[Number(entry.Id)])
      .filter((m) => m !== undefined);
    // Not sent: not counted as moved, so a copy met later is sent instead.
    for (const failure of sent.Failed ?? []) {
      const message = fresh[Number(failure.Id)];
      if (message !== undefined) sentIds.delete(copyKey(message));
    }
    await remove(delivered);
    moved += delivered.length;
    options.onMoved?.(moved);
  }
}

/** SourceMessageId, SourceSentTimestamp and the marker, kept from the dead letter, or signed anew with `sign`. */
function identityAttributes(
  message: Message,
  sign: RedriveOptions['sign'],
): Record<string, { DataType: string; StringValue: string }> {
  const attributes = message.MessageAttributes ?? {};
  const text = (value: string) => ({ DataType: 'String', StringValue: value });
  const id = attributes[DeadLetterAttribute.SourceMessageId]?.StringValue;
  const marker = attributes[DeadLetterAttribute.Signature]?.StringValue;
  const sent = attributes[DeadLetterAttribute.SourceSentTimestamp]?.StringValue;
  if (id && marker) {
    return {
      [DeadLetterAttribute.SourceMessageId]: text(id),
      ...(sent ? { [DeadLetterAttribute.SourceSentTimestamp]: text(sent) } : {}),
      [DeadLetterAttribute.Signature]: text(marker),
    };
  }
  // Unmarked: moved by the redrive policy (its DLQ id and SentTimestamp are its first); an
  // unmarked SourceMessageId is a producer's and is never signed.
  const source = message.MessageId;
  if (sign === undefined || !source) return {};
  const firstSent = message.Attributes?.SentTimestamp;
  return {
    [DeadLetterAttribute.SourceMessageId]: text(source),
    ...(firstSent ? { [DeadLetterAttribute.SourceSentTimestamp]: text(firstSent) } : {}),
    [DeadLetterAttribute.Signature]: text(sign(source, firstSent)),
  };
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
