/**
 * Putting message bodies on a queue (`npm run send`): a file's bodies, read as a JSON array or
 * one per line, sent with SendMessageBatch within SQS's batch limits; entries SQS fails on its
 * side are sent again, entries it refuses as the sender's fault are reported, never retried.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { LoginQueueError } from '../core/errors';
import { reasonOf } from '../core/reason';

/** SendMessageBatch takes at most 10 entries (SQS API Reference, SendMessageBatch). */
export const BATCH_ENTRIES = 10;
/**
 * 256 KiB for the bodies of one batch together: the limit of SQS before 2025 and of the
 * emulators (LocalStack, fauxqs); today's SQS takes more, so this fits everywhere.
 */
export const BATCH_BYTES = 262_144;

export interface Bodies {
  readonly bodies: readonly string[];
  /** Bodies that are not valid JSON: sent as they are (the pipeline dead-letters them). */
  readonly notJson: number;
}

const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/**
 * The bodies of a file: a JSON array (a string element is a body as it is, any other element
 * its JSON text), else one body per line (CRLF too), blank lines skipped. Pure; never throws.
 */
export function parseBodies(text: string): Bodies {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) {
        const bodies = parsed.map((item) =>
          typeof item === 'string' ? item : JSON.stringify(item),
        );
        return { bodies, notJson: bodies.filter((body) => !isJson(body)).length };
      }
    } catch {
      // Not one JSON array: a file of lines, the first of which starts with "[".
    }
  }
  const bodies = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  return { bodies, notJson: bodies.filter((body) => !isJson(body)).length };
}

/**
 * Consecutive runs of indexes into `bodies`, each at most BATCH_ENTRIES bodies and BATCH_BYTES
 * (UTF-8) together; a body over BATCH_BYTES goes alone (SQS decides on it). Pure.
 */
export function batchesOf(bodies: readonly string[]): number[][] {
  const batches: number[][] = [];
  let batch: number[] = [];
  let bytes = 0;
  bodies.forEach((body, index) => {
    const size = Buffer.byteLength(body, 'utf8');
    if (batch.length === BATCH_ENTRIES || (batch.length > 0 && bytes + size > BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(index);
    bytes += size;
  });
  if (batch.length > 0) batches.push(batch);
  return batches;
}

export interface Refused {
  /** Index of the body in the file's order (0-based). */
  readonly index: number;
  /** SQS's code for it, e.g. InvalidMessageContents. */
  readonly code: string;
}

export interface SendResult {
  readonly sent: number;
  /** Bodies SQS refused as the sender's fault (never retried). */
  readonly refused: readonly Refused[];
  /** Entries sent again after SQS failed them on its side. */
  readonly retried: number;
}

/** SendMessageBatch failed as a whole after every attempt: what was sent before it. */
export class SendFailedError extends LoginQueueError {
  override readonly name = 'SendFailedError';
  constructor(
    readonly sent: number,
    /** Index of the first body not sent. */
    readonly firstUnsent: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface SendOptions {
  /** Attempts per batch (the first included). @default 5 */
  readonly attempts?: number;
  /** Wait before attempt n (1-based retry number). @default 200 ms doubling */
  readonly backoffMs?: (retry: number) => number;
  /** Told the running count of bodies sent, after each batch. */
  readonly onSent?: (sent: number) => void;
}

/** Whether a whole-call failure is the request's own fault (4xx other than throttling). */
function isSenderFault(error: unknown): boolean {
  const { $fault, name } = (error ?? {}) as { $fault?: string; name?: string };
  return $fault === 'client' && !/Throttl|RequestThrottled/.test(name ?? '');
}

/**
 * Sends `bodies` to `queueUrl` in order, batch by batch. An entry SQS fails on its side (or a
 * call that fails on the network or with a 5xx/throttling) is sent again with backoff, up to
 * `attempts`; an entry or call SQS refuses as the sender's fault is reported in `refused`.
 * Throws SendFailedError when a batch still cannot be sent, saying how far it got.
 */
export async function sendBodies(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
  options: SendOptions = {},
): Promise<SendResult> {
  const attempts = options.attempts ?? 5;
  const backoff = options.backoffMs ?? ((retry: number) => 200 * 2 ** (retry - 1));
  let sent = 0;
  let retried = 0;
  const refused: Refused[] = [];
  for (const batch of batchesOf(bodies)) {
    let pending = batch;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) {
        retried += pending.length;
        await sleep(backoff(attempt - 1));
      }
      let failedHere: number[] = [];
      try {
        const { Failed = [] } = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: pending.map((index) => ({
              Id: String(index),
              MessageBody: bodies[index] ?? '',
            })),
          }),
        );
        const failedIds = new Set(Failed.map((entry) => Number(entry.Id)));
        sent += pending.length - failedIds.size;
        for (const entry of Failed) {
          if (entry.SenderFault) refused.push({ index: Number(entry.Id), code: entry.Code ?? '' });
          else failedHere.push(Number(entry.Id));
        }
      } catch (error) {
        if (isSenderFault(error)) {
          for (const index of pending) refused.push({ index, code: (error as Error).name });
        } else failedHere = pending;
        if (failedHere.length > 0 && attempt >= attempts) {
          throw new SendFailedError(
            sent,
            Math.min(...failedHere),
            `SendMessageBatch failed ${attempts} times: ${reasonOf(error)}`,
            { cause: error },
          );
        }
      }
      if (failedHere.length > 0 && attempt >= attempts) {
        throw new SendFailedError(
          sent,
          Math.min(...failedHere),
          `SQS failed ${failedHere.length} entries ${attempts} times`,
        );
      }
      pending = failedHere;
    }
    options.onSent?.(sent);
  }
  return { sent, refused: refused.sort((a, b) => a.index - b.index), retried };
}
