/**
 * What a batch does when it cannot be written for a reason that is not the records' fault
 * (a dependency down, a bad configuration): records that already have a fate are deleted,
 * the rest wait out an exponential backoff (their visibility is extended), and the
 * invocation fails, so the function's Errors metric shows it and the event source mapping
 * scales its pollers down (as Powertools' BatchProcessor does by throwing
 * FullBatchFailureError when every record failed).
 */
import type { SQSRecord } from 'aws-lambda';
import type { SourceQueue } from '../aws/source-queue';
import { type BackoffPolicy, backoffSeconds } from '../core/backoff';
import { ConfigError, KeyRingError, TransientError } from '../core/errors';

export interface Backoff {
  readonly queue: SourceQueue;
  readonly policy: BackoffPolicy;
  readonly random?: () => number;
}

/** The subset of the logger used here. */
interface Log {
  error(message: string, attributes: Record<string, unknown>): void;
}

/** True when fixing configuration (a secret, a grant, a key ring), not waiting, cures `error`. */
export function isConfigurationError(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    if (e instanceof ConfigError || e instanceof KeyRingError) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

// Our errors' messages and pg's for these failures hold no record data (never a value).
function errorFields(error: unknown): Record<string, unknown> {
  const err = error as { name?: unknown; cause?: { name?: unknown; code?: unknown } } | undefined;
  return {
    errorName: err?.name,
    errorMessage: messageOf(error),
    causeName: err?.cause?.name,
    causeCode: err?.cause?.code,
  };
}

/**
 * Backs the batch off and throws: ConfigError for a configuration fault, else TransientError,
 * each naming the cause. `failures` holds the ids that must be delivered again.
 */
export async function backOffAndFail(
  records: readonly SQSRecord[],
  failures: ReadonlySet<string>,
  cause: unknown,
  backoff: Backoff | undefined,
  log: Log,
): Promise<never> {
  const configuration = isConfigurationError(cause);
  const entry = (record: SQSRecord) => ({
    messageId: record.messageId,
    receiptHandle: record.receiptHandle,
    queueArn: record.eventSourceARN,
  });
  const waiting = records.filter((record) => failures.has(record.messageId));
  const handled = records.filter((record) => !failures.has(record.messageId));
  const seconds = waiting.map((record) =>
    backoff === undefined
      ? 0
      : backoffSeconds(
          Number(record.attributes?.ApproximateReceiveCount),
          backoff.policy,
          backoff.random,
        ),
  );
  let notExtended = waiting.length;
  let notDeleted = handled.length;
  if (backoff !== undefined) {
    const [unextended, undeleted] = await Promise.all([
      backoff.queue.extendVisibility(
        waiting.map((record, i) => ({ ...entry(record), seconds: seconds[i] ?? 0 })),
      ),
      handled.length === 0 ? new Set<string>() : backoff.queue.delete(handled.map(entry)),
    ]);
    notExtended = unextended.size;
    notDeleted = undeleted.size;
  }
  log.error('batch failed; records back off', {
    kind: configuration ? 'configuration' : 'dependency',
    records: waiting.length,
    backoffSeconds: seconds.length === 0 ? [] : [Math.min(...seconds), Math.max(...seconds)],
    // Not extended: back after the queue's visibility timeout. Not deleted: a dead-lettered
    // record is delivered again and dead-lettered again (the DLQ tools report the copies).
    notExtended,
    notDeleted,
    ...errorFields(cause),
  });
  const waits = `${waiting.length} records back off`;
  throw configuration
    ? new ConfigError(`configuration error: ${messageOf(cause)} (${waits})`, { cause })
    : new TransientError(`${messageOf(cause)} (${waits})`, { cause });
}
