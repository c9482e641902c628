/**
 * Reading a whole dead-letter queue while holding what was read, for erasure (ops/forget.ts):
 * every visible message received and kept hidden until the caller deletes it or makes it
 * visible again. Bodies are raw input (raw PII): returned to the caller, never logged.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { reasonOf } from '../core/reason';

/** A dead letter this run holds hidden: its body, and the receipt to delete or release it. */
export interface HeldLetter {
  readonly body: string;
  readonly receiptHandle: string | undefined;
}

const batches = <T>(items: readonly T[]) =>
  Array.from({ length: Math.ceil(items.length / 10) }, (_, i) => items.slice(i * 10, i * 10 + 10));

/** Messages of the queue hidden now (in another reader's hands): a scan cannot see them. */
export async function countHidden(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/**
 * Receives every visible message, hiding each for `holdSeconds` and hiding those already held
 * again every third of that, so that none comes back while the queue is read; the first empty
 * receive (long polling asks every SQS server) ends the scan. A message that comes back anyway
 * (a hold SQS refused to extend) fails the scan rather than end it early: a reader that must
 * see every message must not miss one silently. On failure, what was received is made visible
 * again and the error rethrown.
 */
export async function scanHolding(
  sqs: SQSClient,
  queueUrl: string,
  holdSeconds: number,
): Promise<HeldLetter[]> {
  const seen = new Map<string, HeldLetter>();
  let heldAt = Date.now();
  try {
    for (;;) {
      if (Date.now() - heldAt > (holdSeconds * 1000) / 3) {
        heldAt = Date.now();
        const lost = await setVisibility(sqs, queueUrl, [...seen.values()], holdSeconds);
        if (lost > 0)
          throw new Error(`could not keep ${lost} dead letters hidden while reading the queue`);
      }
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: holdSeconds,
          WaitTimeSeconds: 1,
        }),
      );
      if (Messages.length === 0) return [...seen.values()];
      let back = 0;
      for (const message of Messages) {
        if (seen.has(message.MessageId ?? '')) back++;
        seen.set(message.MessageId ?? '', {
          body: message.Body ?? '',
          receiptHandle: message.ReceiptHandle,
        });
      }
      if (back > 0) throw new Error(`${back} dead letters came back while the queue was read`);
    }
  } catch (error) {
    await setVisibility(sqs, queueUrl, [...seen.values()], 0);
    throw error;
  }
}

/** Sets held letters' visibility timeout; resolves to how many it could not set (never rejects). */
async function setVisibility(
  sqs: SQSClient,
  queueUrl: string,
  letters: readonly HeldLetter[],
  seconds: number,
): Promise<number> {
  let failed = 0;
  for (const batch of batches(letters)) {
    try {
      const { Failed = [] } = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((letter, i) => ({
            Id: String(i),
            ReceiptHandle: letter.receiptHandle,
            VisibilityTimeout: seconds,
          })),
        }),
      );
      failed += Failed.length;
    } catch {
      failed += batch.length;
    }
  }
  return failed;
}

/** Makes held letters visible at once; resolves to how many could not be (never rejects). */
export const releaseHeld = (sqs: SQSClient, queueUrl: string, letters: readonly HeldLetter[]) =>
  setVisibility(sqs, queueUrl, letters, 0);

/** Deletes held letters; the ones deleted, and the first failure's reason (never rejects). */
export async function deleteHeld(
  sqs: SQSClient,
  queueUrl: string,
  letters: readonly HeldLetter[],
): Promise<{ deleted: Set<HeldLetter>; error: string | undefined }> {
  const deleted = new Set<HeldLetter>();
  let error: string | undefined;
  for (const batch of batches(letters)) {
    try {
      const { Successful = [], Failed = [] } = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((letter, i) => ({
            Id: String(i),
            ReceiptHandle: letter.receiptHandle,
          })),
        }),
      );
      for (const entry of Successful) {
        const letter = batch[Number(entry.Id)];
        if (letter !== undefined) deleted.add(letter);
      }
      const [first] = Failed;
      if (first !== undefined) error ??= `${first.Code}: ${first.Message ?? ''}`;
    } catch (failure) {
      error ??= reasonOf(failure);
    }
  }
  return { deleted, error };
}
