/**
 * How long a record waits before its next delivery when its batch failed for a systemic
 * reason (database or Secrets Manager unreachable, bad configuration): exponential in the
 * record's ApproximateReceiveCount, capped, with jitter (pure).
 *
 * Every delivery burns one of the queue's maxReceiveCount receives; spacing them out turns
 * a handful of receives into hours of outage a record survives before SQS dead-letters it.
 */

export interface BackoffPolicy {
  /** The wait after a first failed delivery, seconds. */
  readonly baseSeconds: number;
  /** The longest wait before jitter, seconds. */
  readonly maxSeconds: number;
}

/** Each failed delivery multiplies the wait by this. */
export const BACKOFF_FACTOR = 5;
/** Jitter only lengthens a wait, by up to this fraction, so the lower bound stays exact. */
export const BACKOFF_JITTER = 0.2;
/** SQS's ceiling for a message's visibility timeout (12 h). */
export const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * Visibility timeout (whole seconds) for a record received `receiveCount` times:
 * min(max, base x 5^(n-1)) x (1 + 0.2 x random), at most 12 h. `random` is in [0, 1).
 */
export function backoffSeconds(
  receiveCount: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const n = Number.isFinite(receiveCount) && receiveCount >= 1 ? Math.floor(receiveCount) : 1;
  // Exponent capped: 5^30 already exceeds any cap, and larger powers are Infinity.
  const delay = Math.min(
    policy.maxSeconds,
    policy.baseSeconds * BACKOFF_FACTOR ** Math.min(n - 1, 30),
  );
  return Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(delay * (1 + BACKOFF_JITTER * random())));
}
