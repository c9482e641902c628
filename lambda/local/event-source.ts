/**
 * A local SQS event source mapping that behaves like Lambda's: polls up to the batch size
 * (gathering several ReceiveMessage calls within the batching window), invokes the
 * handler with a real SQSEvent, deletes what succeeded, and leaves reported failures to
 * reappear after the visibility timeout (and to the queue's redrive policy after
 * maxReceiveCount). A thrown handler, or a response naming an unknown id, fails the batch;
 * the poller then slows down, as Lambda scales its pollers down. With a probe, a systemic
 * failure stops every poller until the dependency answers again (breaker.ts). Visibility is
 * left to the queue, so a handler's ChangeMessageVisibility takes effect exactly as in SQS.
 * SQS calls ride through blips (retry.ts).
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { queueDepth } from '../aws/source-queue';
import { TransientError } from '../core/errors';
import { type Breaker, createBreaker, type Outage, type Probe } from './breaker';
import { retrySqs } from './retry';

export interface EventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region?: string;
  /** Records per invocation, 1..10000 (Lambda's limits for standard queues). */
  readonly batchSize: number;
  /** How long to gather a batch once its first message arrived, ms (Lambda's batching window). */
  readonly batchingWindowMs?: number;
  /** One handler per poller: each is its own "container" (its own connection). */
  readonly handlers: readonly ((event: SQSEvent) => Promise<SQSBatchResponse>)[];
  /** Called after every invocation. */
  readonly onBatch?: (batch: BatchOutcome) => void;
  /** Stop when true after an empty receive; by default when the queue has nothing left. */
  readonly shouldStop?: () => Promise<boolean>;
  /** A handler error that ends the run (rejects it) instead of failing one batch. */
  readonly isFatal?: (error: unknown) => boolean;
  /** How long SQS calls are retried before the run fails, ms (default 60 s). */
  readonly sqsTimeoutMs?: number;
  /** Told of each SQS call that failed and will be retried. */
  readonly onSqsRetry?: (what: string, error: unknown, timeoutMs: number) => void;
  /**
   * Asks the dependencies after a systemic failure (see `isSystemic`); until it says they
   * answer, no poller receives. Without it, a failed batch only slows its own poller.
   */
  readonly probe?: Probe;
  /** A handler error that means a dependency is down (default: a TransientError). */
  readonly isSystemic?: (error: unknown) => boolean;
  /** How long the probe may go unanswered before the run fails with OutageError, ms. */
  readonly outageLimitMs?: number;
  /** Told when an outage starts, when the probe learns more, and (undefined) when it ends. */
  readonly onOutage?: (outage: Outage | undefined) => void;
}

/** The default of EventSourceOptions.outageLimitMs: 5 minutes. */
export const OUTAGE_LIMIT_MS = 300_000;

const isTransient = (error: unknown) => error instanceof TransientError;

/** The default of EventSourceOptions.sqsTimeoutMs. */
export const SQS_TIMEOUT_MS = 60_000;

function retrying(options: EventSourceOptions) {
  const timeoutMs = options.sqsTimeoutMs ?? SQS_TIMEOUT_MS;
  return <T>(what: string, call: () => Promise<T>) =>
    retrySqs(what, call, {
      timeoutMs,
      onRetry: (error) => options.onSqsRetry?.(what, error, timeoutMs),
    });
}

export interface BatchOutcome {
  readonly records: number;
  readonly failed: number;
  /** The handler threw or named an unknown id: the whole batch goes back to the queue. */
  readonly wholeBatchFailed: boolean;
}

const IDLE_POLL_MS = 100;

/** The SQSRecord Lambda would deliver for a received message. */
export function toRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      stringValue: value.StringValue,
      binaryValue: value.BinaryValue
        ? Buffer.from(value.BinaryValue).toString('base64')
        : undefined,
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? '',
      ApproximateFirstReceiveTimestamp:
        attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

// Concurrent ReceiveMessage calls while gathering one batch (Lambda's pollers also overlap).
export const RECEIVES_IN_FLIGHT = 5;

async function receiveBatch(options: EventSourceOptions): Promise<Message[]> {
  const { sqs, queueUrl, batchSize } = options;
  const messages: Message[] = [];
  const deadline = Date.now() + (options.batchingWindowMs ?? 500);
  const retry = retrying(options);
  const receive = (max: number) =>
    retry('ReceiveMessage', () =>
      sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          // Short polls: some emulators answer long polls slowly even when messages are
          // waiting; an empty queue is re-polled after IDLE_POLL_MS instead (see poll()).
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      ),
    );
  while (messages.length < batchSize) {
    const wanted = batchSize - messages.length;
    const sizes = Array.from(
      { length: Math.min(RECEIVES_IN_FLIGHT, Math.ceil(wanted / 10)) },
      (_, i) => Math.min(10, wanted - i * 10),
    );
    const replies = await Promise.all(sizes.map(receive));
    let got = 0;
    for (const { Messages = [] } of replies) {
      messages.push(...Messages);
      got += Messages.length;
    }
    // A short wave means the queue has nothing more visible right now.
    if (got < sizes.reduce((a, b) => a + b, 0) || Date.now() >= deadline) break;
  }
  return messages;
}

async function deleteMessages(
  options: EventSourceOptions,
  messages: readonly Message[],
): Promise<void> {
  const { sqs, queueUrl } = options;
  const retry = retrying(options);
  const requests: Promise<unknown>[] = [];
  for (let i = 0; i < messages.length; i += 10) {
    const entries = messages
      .slice(i, i + 10)
      .map((message, j) => ({ Id: String(j), ReceiptHandle: message.ReceiptHandle }));
    requests.push(
      retry('DeleteMessageBatch', () =>
        sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })),
      ),
    );
  }
  await Promise.all(requests);
}

/** Which records failed, per Lambda's rules for ReportBatchItemFailures. */
function failedIds(records: readonly SQSRecord[], response: unknown): Set<string> | 'all' {
  const failures = (response as SQSBatchResponse | undefined)?.batchItemFailures;
  if (failures === undefined) return new Set();
  const known = new Set(records.map((record) => record.messageId));
  const ids = new Set<string>();
  for (const failure of failures) {
    // An empty, null or unknown identifier makes Lambda treat the whole batch as failed.
    if (!failure?.itemIdentifier || !known.has(failure.itemIdentifier)) return 'all';
    ids.add(failure.itemIdentifier);
  }
  return ids;
}

// After a failed invocation a poller waits before its next receive, doubling up to the cap.
const FAILED_BATCH_PAUSE_MS = 100;
const MAX_FAILED_BATCH_PAUSE_MS = 2_000;

async function poll(
  options: EventSourceOptions,
  handler: (event: SQSEvent) => Promise<SQSBatchResponse>,
  run: { stopped: boolean; breaker?: Breaker },
) {
  const retry = retrying(options);
  const stop =
    options.shouldStop ??
    (async () =>
      (await retry('GetQueueAttributes', () => queueDepth(options.sqs, options.queueUrl))) === 0);
  // A prefetch is awaited on the next turn; until then its failure must not count as unhandled.
  const prefetch = () => {
    const batch = receiveBatch(options);
    batch.catch(() => {});
    return batch;
  };
  let next: Promise<Message[]> | undefined = prefetch();
  let failedInARow = 0;
  for (;;) {
    await run.breaker?.ready();
    const messages = await (next ?? prefetch());
    next = undefined;
    if (run.stopped) return;
    // Received as another poller's batch failed: not handled now, so they come back after
    // their visibility timeout, once the dependency answers (one receive spent, not three).
    if (run.breaker?.outage !== undefined) continue;
    if (messages.length === 0) {
      if (await stop()) return;
      await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
      next = prefetch();
      continue;
    }
    // Poll ahead while this batch is handled, as Lambda's pollers do, but not while
    // invocations fail: a prefetched batch held through the pause below could outlive its
    // visibility timeout and be handled twice.
    if (failedInARow === 0 && run.breaker?.outage === undefined) next = prefetch();
    const records = messages.map((message) =>
      toRecord(message, options.queueArn, options.region ?? 'us-east-1'),
    );
    let failed: Set<string> | 'all';
    try {
      failed = failedIds(records, await handler({ Records: records }));
    } catch (error) {
      if (options.isFatal?.(error)) {
        run.stopped = true;
        throw error;
      }
      if ((options.isSystemic ?? isTransient)(error)) run.breaker?.trip();
      failed = 'all';
    }
    const succeeded =
      failed === 'all' ? [] : messages.filter((message) => !failed.has(message.MessageId ?? ''));
    await deleteMessages(options, succeeded);
    options.onBatch?.({
      records: records.length,
      failed: records.length - succeeded.length,
      wholeBatchFailed: failed === 'all',
    });
    failedInARow = failed === 'all' ? failedInARow + 1 : 0;
    if (failedInARow > 0) {
      const pause = Math.min(
        MAX_FAILED_BATCH_PAUSE_MS,
        FAILED_BATCH_PAUSE_MS * 2 ** (failedInARow - 1),
      );
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/**
 * Runs one poller per handler until the queue is drained (or `shouldStop` says so). Rejects
 * with a fatal handler error (see `isFatal`), an SqsUnreachableError, or an OutageError when
 * the probe went unanswered past `outageLimitMs`.
 */
export async function runEventSource(options: EventSourceOptions): Promise<void> {
  if (options.batchSize < 1 || options.batchSize > 10_000) {
    throw new RangeError(`batch size must be 1..10000, got ${options.batchSize}`);
  }
  const run = {
    stopped: false,
    breaker:
      options.probe &&
      createBreaker({
        probe: options.probe,
        limitMs: options.outageLimitMs ?? OUTAGE_LIMIT_MS,
        onChange: options.onOutage,
      }),
  };
  try {
    await Promise.all(options.handlers.map((handler) => poll(options, handler, run)));
  } finally {
    // One poller failed (a fatal handler error, SQS gone): the others end at their next turn.
    run.stopped = true;
  }
}
