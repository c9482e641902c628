/**
 * The queue a batch came from, as the handler sees it when it backs off: it extends the
 * visibility of records that must wait, and deletes records that already have a fate
 * before the invocation fails (a failed invocation would otherwise redeliver them all); and
 * how many messages it still holds.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface SourceQueueEntry {
  readonly messageId: string;
  readonly receiptHandle: string;
  /** The record's queue (eventSourceARN). */
  readonly queueArn: string;
}

export interface SourceQueue {
  /** Sets each entry's visibility timeout; resolves to the ids it could not change (never rejects). */
  extendVisibility(
    entries: readonly (SourceQueueEntry & { readonly seconds: number })[],
  ): Promise<ReadonlySet<string>>;
  /** Deletes the entries; resolves to the ids it could not delete (never rejects). */
  delete(entries: readonly SourceQueueEntry[]): Promise<ReadonlySet<string>>;
}

/** https://sqs.<region>.amazonaws.com/<account>/<name> for arn:aws:sqs:<region>:<account>:<name>. */
export function queueUrlOfArn(arn: string): string {
  const [, partition, , region, account, name] = arn.split(':');
  if (!region || !account || !name) throw new Error(`not an SQS queue ARN: ${arn}`);
  const domain = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${domain}/${account}/${name}`;
}

// SQS takes at most 10 entries per batch request.
const MAX_ENTRIES = 10;

/**
 * A SourceQueue on SQS. `queueUrl` (SOURCE_QUEUE_URL) wins over the URL derived from a
 * record's ARN: emulators serve queues at their own URLs. `onError` hears every failed entry.
 */
export function createSqsSourceQueue(
  sqs: SQSClient,
  queueUrl: string | undefined,
  onError: (action: string, error: unknown, messageIds: readonly string[]) => void,
): SourceQueue {
  const urlOf = (arn: string) => queueUrl ?? queueUrlOfArn(arn);

  const inChunks = async <T extends SourceQueueEntry>(
    action: string,
    entries: readonly T[],
    send: (
      url: string,
      chunk: readonly T[],
    ) => Promise<{ Failed?: { Id?: string; Code?: string }[] }>,
  ): Promise<ReadonlySet<string>> => {
    const failed = new Set<string>();
    const byUrl = new Map<string, T[]>();
    for (const entry of entries) {
      let url: string;
      try {
        url = urlOf(entry.queueArn);
      } catch (error) {
        onError(action, error, [entry.messageId]);
        failed.add(entry.messageId);
        continue;
      }
      byUrl.set(url, [...(byUrl.get(url) ?? []), entry]);
    }
    const requests: Promise<void>[] = [];
    for (const [url, list] of byUrl) {
      for (let i = 0; i < list.length; i += MAX_ENTRIES) {
        const chunk = list.slice(i, i + MAX_ENTRIES);
        requests.push(
          send(url, chunk).then(
            (out) => {
              const ids = (out.Failed ?? []).map((f) => chunk[Number(f.Id)]?.messageId ?? '');
              if (ids.length === 0) return;
              onError(
                action,
                new Error(`entries failed: ${(out.Failed ?? []).map((f) => f.Code).join(', ')}`),
                ids,
              );
              for (const id of ids) failed.add(id);
            },
            (error: unknown) => {
              const ids = chunk.map((entry) => entry.messageId);
              onError(action, error, ids);
              for (const id of ids) failed.add(id);
            },
          ),
        );
      }
    }
    await Promise.all(requests);
    return failed;
  };

  return {
    extendVisibility: (entries) =>
      inChunks('change visibility', entries, (url, chunk) =>
        sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: chunk.map((entry, i) => ({
              Id: String(i),
              ReceiptHandle: entry.receiptHandle,
              VisibilityTimeout: entry.seconds,
            })),
          }),
        ),
      ),
    delete: (entries) =>
      inChunks('delete', entries, (url, chunk) =>
        sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: chunk.map((entry, i) => ({
              Id: String(i),
              ReceiptHandle: entry.receiptHandle,
            })),
          }),
        ),
      ),
  };
}

/** Messages left in the queue: visible, in flight and delayed. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}
