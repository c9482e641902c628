/**
 * Sends messages that can never be stored to the dead-letter queue, body unchanged, with the
 * reason as message attributes, so an operator sees why without reading the body.
 */
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface DeadLetterItem {
  /** The SQS message id in this delivery (what batchItemFailures name). */
  readonly messageId: string;
  /** The id the message was first sent under (its row id; see batch.idempotencyKey). */
  readonly sourceMessageId: string;
  readonly body: string;
  /** Machine-readable reason, e.g. "ip.invalid" or "database.rejected". */
  readonly reason: string;
  /** Human-readable, never holding a raw value. */
  readonly detail: string;
}

export interface DeadLetterQueue {
  /** Sends items; resolves to the message ids that could not be sent (never rejects). */
  send(items: readonly DeadLetterItem[]): Promise<ReadonlySet<string>>;
}

/** Message attribute names set on every dead-lettered message. */
export const DeadLetterAttribute = {
  Reason: 'DeadLetterReason',
  Detail: 'DeadLetterDetail',
  SourceMessageId: 'SourceMessageId',
  At: 'DeadLetteredAt',
} as const;

// SQS limits: 10 entries per SendMessageBatch; keep each request's bodies under 256 KiB.
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024 - 4 * 1024;

function chunks(items: readonly DeadLetterItem[]): DeadLetterItem[][] {
  const out: DeadLetterItem[][] = [];
  let chunk: DeadLetterItem[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.body);
    if (chunk.length === MAX_ENTRIES || (chunk.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
      out.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}

function entry(item: DeadLetterItem, index: number, at: string): SendMessageBatchRequestEntry {
  const text = (value: string) => ({ DataType: 'String', StringValue: value });
  return {
    Id: String(index),
    MessageBody: item.body,
    MessageAttributes: {
      [DeadLetterAttribute.Reason]: text(item.reason),
      [DeadLetterAttribute.Detail]: text(item.detail),
      [DeadLetterAttribute.SourceMessageId]: text(item.sourceMessageId),
      [DeadLetterAttribute.At]: text(at),
    },
  };
}

/** A DeadLetterQueue on SQS. A chunk whose request fails counts all its items as not sent. */
export function createSqsDeadLetterQueue(
  sqs: SQSClient,
  queueUrl: string,
  onError: (error: unknown, messages: number) => void,
): DeadLetterQueue {
  const sendChunk = async (chunk: DeadLetterItem[], failed: Set<string>) => {
    const at = new Date().toISOString();
    try {
      const out = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((item, i) => entry(item, i, at)),
        }),
      );
      for (const failure of out.Failed ?? []) {
        const item = chunk[Number(failure.Id)];
        if (item !== undefined) failed.add(item.messageId);
      }
    } catch (error) {
      onError(error, chunk.length);
      for (const item of chunk) failed.add(item.messageId);
    }
  };
  return {
    async send(items) {
      const failed = new Set<string>();
      await Promise.all(chunks(items).map((chunk) => sendChunk(chunk, failed)));
      return failed;
    },
  };
}
