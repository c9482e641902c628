/**
 * Sends messages that can never be stored to the dead-letter queue, body unchanged, with the
 * reason as message attributes, so an operator sees why without reading the body.
 */
import {
  GetQueueAttributesCommand,
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetterItem } from '../core/fate';
import { MarkerAttribute } from '../core/redrive-marker';

/** Built by core/fate.deadLetterItem. */
export type { DeadLetterItem } from '../core/fate';

export interface DeadLetterQueue {
  /** Sends items; resolves to the message ids that could not be sent (never rejects). */
  send(items: readonly DeadLetterItem[]): Promise<ReadonlySet<string>>;
}

/** Message attribute names set on every dead-lettered message (as far as they fit). */
export const DeadLetterAttribute = {
  Reason: 'DeadLetterReason',
  Detail: 'DeadLetterDetail',
  SourceMessageId: MarkerAttribute.SourceMessageId,
  Signature: MarkerAttribute.Signature,
  SourceSentTimestamp: MarkerAttribute.SourceSentTimestamp,
  At: 'DeadLetteredAt',
} as const;

/** Why one entry (or a whole request) could not be sent; never holds a body. */
export interface DeadLetterFailure {
  readonly messageIds: readonly string[];
  readonly code: string | undefined;
  readonly message: string | undefined;
  readonly senderFault: boolean;
  /** Another attempt follows. */
  readonly retrying: boolean;
}

export interface DeadLetterOptions {
  /** Hears every failed entry and failed request, retried or final. */
  readonly onFailure: (failure: DeadLetterFailure) => void;
  /** Hears attributes left out so that a message fits the queue's maximum size. */
  readonly onTrimmed?: (messageId: string, dropped: readonly string[]) => void;
  /** Pause before attempt n (n >= 2), ms; attempts end when it returns undefined. */
  readonly retryDelayMs?: (attempt: number) => number | undefined;
}

// SQS limits: 10 entries per SendMessageBatch; keep each request under 256 KiB (a message
// larger than that goes alone). SQS's largest message (and default maximum): 1 MiB.
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024 - 4 * 1024;
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

// Three attempts over about a second: rides through a connection reset inside one invocation.
const DEFAULT_RETRY_DELAYS_MS = [200, 800];

type Attributes = Record<string, MessageAttributeValue>;

/** Size as SQS counts it: body plus each attribute's name, data type and value, in bytes. */
export function messageBytes(body: string, attributes: Attributes): number {
  let size = Buffer.byteLength(body);
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '');
    size += Buffer.byteLength(value.StringValue ?? '');
  }
  return size;
}

/**
 * The attributes of a dead letter, most important first, kept while they fit `maxBytes`:
 * the reason, then the redrive identity (id, first send time and marker together), the
 * detail, the time.
 * Returns the kept attributes and the names left out.
 */
export function fitAttributes(
  item: DeadLetterItem,
  at: string,
  maxBytes: number,
): { attributes: Attributes; dropped: string[] } {
  const text = (value: string) => ({ DataType: 'String', StringValue: value });
  const groups: Attributes[] = [
    { [DeadLetterAttribute.Reason]: text(item.reason) },
    {
      [DeadLetterAttribute.SourceMessageId]: text(item.sourceMessageId),
      ...(item.sourceSentTimestamp
        ? { [DeadLetterAttribute.SourceSentTimestamp]: text(item.sourceSentTimestamp) }
        : {}),
      ...(item.marker ? { [DeadLetterAttribute.Signature]: text(item.marker) } : {}),
    },
    { [DeadLetterAttribute.Detail]: text(item.detail) },
    { [DeadLetterAttribute.At]: text(at) },
  ];
  const attributes: Attributes = {};
  const dropped: string[] = [];
  let size = Buffer.byteLength(item.body);
  for (const group of groups) {
    const more = messageBytes('', group);
    if (size + more <= maxBytes) {
      Object.assign(attributes, group);
      size += more;
    } else {
      dropped.push(...Object.keys(group));
    }
  }
  return { attributes, dropped };
}

function chunks<T extends { size: number }>(entries: readonly T[]): T[][] {
  const out: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (
      chunk.length === MAX_ENTRIES ||
      (chunk.length > 0 && bytes + entry.size > MAX_BATCH_BYTES)
    ) {
      out.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(entry);
    bytes += entry.size;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A DeadLetterQueue on SQS. A message too large for the queue with all its attributes keeps
 * those that fit (the reason first). A request that fails, or an entry SQS failed on its
 * side, is retried with backoff; each failure is reported to `onFailure`.
 */
export function createSqsDeadLetterQueue(
  sqs: SQSClient,
  queueUrl: string,
  options: DeadLetterOptions,
): DeadLetterQueue {
  const delay = options.retryDelayMs ?? ((attempt: number) => DEFAULT_RETRY_DELAYS_MS[attempt - 2]);
  // The queue's MaximumMessageSize, read once per container (SQS's 1 MiB if it cannot be read).
  let maxBytes: Promise<number> | undefined;
  const maximumSize = () => {
    maxBytes ??= sqs
      .send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['MaximumMessageSize'],
        }),
      )
      .then(
        (out) => Number(out.Attributes?.MaximumMessageSize) || SQS_MAX_MESSAGE_BYTES,
        () => {
          maxBytes = undefined; // try again next time
          return SQS_MAX_MESSAGE_BYTES;
        },
      );
    return maxBytes;
  };

  interface Entry {
    readonly item: DeadLetterItem;
    readonly attributes: Attributes;
    readonly size: number;
  }

  const sendChunk = async (chunk: Entry[], failed: Set<string>) => {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const pause = attempt === 1 ? 0 : delay(attempt);
      if (pause === undefined) break;
      if (pause > 0) await sleep(pause);
      const retrying = delay(attempt + 1) !== undefined;
      const current = pending;
      pending = [];
      try {
        const out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: current.map((entry, i) => ({
              Id: String(i),
              MessageBody: entry.item.body,
              MessageAttributes: entry.attributes,
            })),
          }),
        );
        for (const failure of out.Failed ?? []) {
          const entry = current[Number(failure.Id)];
          if (entry === undefined) continue;
          // A sender fault (the request itself is wrong) will fail the same way again.
          const again = retrying && !failure.SenderFault;
          options.onFailure({
            messageIds: [entry.item.messageId],
            code: failure.Code,
            message: failure.Message,
            senderFault: failure.SenderFault ?? false,
            retrying: again,
          });
          if (again) pending.push(entry);
          else failed.add(entry.item.messageId);
        }
      } catch (error) {
        const { name, message } = (error ?? {}) as { name?: string; message?: string };
        options.onFailure({
          messageIds: current.map((entry) => entry.item.messageId),
          code: name,
          message,
          senderFault: false,
          retrying,
        });
        if (retrying) pending = current;
        else for (const entry of current) failed.add(entry.item.messageId);
      }
    }
    for (const entry of pending) failed.add(entry.item.messageId);
  };

  return {
    async send(items) {
      const failed = new Set<string>();
      if (items.length === 0) return failed;
      const limit = await maximumSize();
      const at = new Date().toISOString();
      const entries = items.map((item): Entry => {
        const { attributes, dropped } = fitAttributes(item, at, limit);
        if (dropped.length > 0) options.onTrimmed?.(item.messageId, dropped);
        return { item, attributes, size: messageBytes(item.body, attributes) };
      });
      await Promise.all(chunks(entries).map((chunk) => sendChunk(chunk, failed)));
      return failed;
    },
  };
}
