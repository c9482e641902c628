/**
 * The local event source's circuit breaker. After a systemic failure (the handler threw a
 * TransientError: the database or the key source is down) the pollers stop receiving, a
 * probe asks the dependencies with backoff, and receiving resumes once they answer. Records
 * that could not be written are then not received again during the outage, so a small queue
 * does not spend its maxReceiveCount on it (Lambda scales its pollers down for the same reason).
 */
import { LoginQueueError } from '../core/errors';

/** What does not answer: "PostgreSQL at 127.0.0.1:5432/postgres", and why. */
export interface ProbeFailure {
  readonly service: string;
  readonly reason: string;
}

/** Asks the dependencies; resolves to undefined when they answer, else to what does not. */
export type Probe = () => Promise<ProbeFailure | undefined>;

export interface Outage extends ProbeFailure {
  /** When receiving stopped, ms since the epoch. */
  readonly since: number;
}

/** An outage outlasted its limit; the message names the service, its address and how long. */
export class OutageError extends LoginQueueError {
  override readonly name = 'OutageError';
  constructor(
    readonly outage: Outage,
    readonly seconds: number,
    readonly limitMs: number,
  ) {
    super(`${outage.service} did not answer for ${Math.round(seconds)} s: ${outage.reason}`);
  }
}

export interface BreakerOptions {
  readonly probe: Probe;
  /** How long an outage may last before `ready()` rejects with OutageError, ms. */
  readonly limitMs: number;
  /** Told when an outage starts, when a probe learns more, and (undefined) when it ends. */
  readonly onChange?: (outage: Outage | undefined) => void;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface Breaker {
  /** The outage in progress, if any. */
  readonly outage: Outage | undefined;
  /** A systemic failure: stop receiving and start probing (once per outage). */
  trip(): void;
  /** Resolves when receiving may go on; rejects with OutageError past the limit. */
  ready(): Promise<void>;
}

// Probes 0.5 s after the failure, doubling to every 5 s: an outage's end is seen within 5 s.
const FIRST_PROBE_MS = 500;
const MAX_PROBE_MS = 5_000;

/** A closed breaker that opens on `trip()`. */
export function createBreaker(options: BreakerOptions): Breaker {
  const now = options.now ?? Date.now;
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let outage: Outage | undefined;
  let closed: Promise<void> | undefined;

  const probeUntilAnswered = async (since: number) => {
    for (let attempt = 0; ; attempt++) {
      await sleep(Math.min(MAX_PROBE_MS, FIRST_PROBE_MS * 2 ** attempt));
      const failure = await options.probe().catch(
        (error: unknown): ProbeFailure => ({
          service: 'a dependency',
          reason: error instanceof Error ? error.message : String(error),
        }),
      );
      if (failure === undefined) {
        outage = undefined;
        closed = undefined;
        options.onChange?.(undefined);
        return;
      }
      outage = { ...failure, since };
      options.onChange?.(outage);
      const elapsed = now() - since;
      if (elapsed >= options.limitMs)
        throw new OutageError(outage, elapsed / 1000, options.limitMs);
    }
  };

  return {
    get outage() {
      return outage;
    },
    trip() {
      if (closed !== undefined) return;
      const since = now();
      outage = { service: 'a dependency', reason: 'the handler failed systemically', since };
      options.onChange?.(outage);
      closed = probeUntilAnswered(since);
      // Awaited by ready(); until then its rejection must not count as unhandled.
      closed.catch(() => {});
    },
    ready: () => closed ?? Promise.resolve(),
  };
}
