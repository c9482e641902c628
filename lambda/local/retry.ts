/**
 * Bounded retry with exponential backoff for the local drain's SQS calls, so a blip (a reset
 * connection, an endpoint restarting) does not end a long-running drain.
 */
import { LoginQueueError } from '../core/errors';

export interface RetryOptions {
  /** Give up once calls have failed for this long, ms. */
  readonly timeoutMs: number;
  /** Told of each failure that will be retried. */
  readonly onRetry?: (error: unknown, attempt: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;

/** The request reached SQS and was refused for its content: retrying cannot help. */
export function isPermanentSqsError(error: unknown): boolean {
  const { $metadata, $fault } = (error ?? {}) as {
    $metadata?: { httpStatusCode?: number };
    $fault?: string;
  };
  const status = $metadata?.httpStatusCode;
  return $fault === 'client' && status !== undefined && status < 500 && status !== 429;
}

/** Error thrown when an SQS endpoint stayed unreachable past the timeout. */
export class SqsUnreachableError extends LoginQueueError {
  override readonly name = 'SqsUnreachableError';
}

/**
 * Runs `call` until it succeeds, retrying network and server errors with backoff (100 ms
 * doubling to 2 s) for up to `timeoutMs`; then throws SqsUnreachableError naming `what`,
 * the timeout and the last error. A refused request (4xx) is thrown at once.
 */
export async function retrySqs<T>(
  what: string,
  call: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    const attemptStarted = now();
    try {
      return await call();
    } catch (error) {
      if (isPermanentSqsError(error)) throw error;
      // From the start of the first failed call: one that hung until its request timeout
      // counts its wait, so a silent endpoint fails as soon as a refusing one does.
      firstFailure ??= attemptStarted;
      if (now() - firstFailure >= options.timeoutMs) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new SqsUnreachableError(
          `SQS ${what} failed for ${Math.round(options.timeoutMs / 1000)} s (the timeout): ${reason}`,
          { cause: error },
        );
      }
      options.onRetry?.(error, attempt);
      await sleep(Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1)));
    }
  }
}
