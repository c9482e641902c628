/**
 * Erasure of one person's data (`npm run forget`, the operations function's `forget`): their
 * rows of user_logins (every partition; the sealed PII is on the same rows) deleted, the dead
 * letters that mention them counted (bodies are raw input, so raw PII) and, when asked,
 * deleted, and one erasure_audit row naming them by a keyed token, never by the id, all in
 * one database transaction. No body, id or value is ever logged or returned.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  countHidden,
  deleteHeld,
  type HeldLetter,
  releaseHeld,
  scanHolding,
} from '../aws/dead-letter-scan';
import { type MaskingKey, userIdToken } from '../core/masking';
import { reasonOf } from '../core/reason';
import { countUserRows, type Erasure, eraseUser } from '../db/erasure';
import type { Pool } from '../db/pool';
import { containsWord } from './requests';

export interface ForgetRequest {
  /** As the producer sent it; trimmed here as the parser trims it before storing. */
  readonly userId: string;
  readonly reason: string;
  /** Who asked: the OS user or --operator locally, the verified IAM caller in AWS. */
  readonly operator: string;
  /** Delete the dead letters that mention the user, not only count them. */
  readonly deleteDeadLetters: boolean;
}

/** What the erasure_audit row holds, as the command prints it. */
export interface ForgetResult {
  /** The audit row's `at`: when the transaction began. */
  readonly at: string;
  /** The database login that erased (session_user), as the audit row holds it. */
  readonly dbUser: string;
  readonly operator: string;
  /** `<keyId>:base64url(HMAC(K_user_id, userId))`: how the audit names the user. */
  readonly userToken: string;
  readonly rowsDeleted: number;
  /** What became of the dead letters; null when no DLQ was given (they were not checked). */
  readonly deadLetters: DeadLetterCounts | null;
}

/** What forget found, and did, in the dead-letter queue. */
export interface DeadLetterCounts {
  /** Messages of the DLQ that are the user's logins (`user_id` is the id). */
  readonly matched: number;
  /** Messages that hold the id elsewhere (see `mentions`): counted, never deleted. */
  readonly possible: number;
  /** Messages other readers held when the scan began: not seen by this run. */
  readonly hiddenAtStart: number;
  readonly deleted: number;
  /** Why some matched messages were not deleted although asked (SQS failed); audited as not deleted. */
  readonly deleteError?: string;
  /** Messages this run could not make visible again: hidden until their timeout ends. */
  readonly leftHidden: number;
}

/** What a forget now would erase (`--dry-run`); nothing was changed or audited. */
export interface ForgetPreview {
  readonly dryRun: true;
  readonly userToken: string;
  /** The user's rows of user_logins, and how many in each partition. */
  readonly rows: number;
  readonly rowsByPartition: Readonly<Record<string, number>>;
  /** null when no DLQ was given (the dead letters were not checked). */
  readonly deadLetters: {
    readonly matched: number;
    readonly possible: number;
    readonly hiddenAtStart: number;
    /** The matched ones, when --delete-dead-letters was given; else 0. */
    readonly wouldDelete: number;
  } | null;
}

/** Seconds a scanned dead letter stays hidden if this run dies before releasing it. */
export const SCAN_VISIBILITY_SECONDS = 120;

/** A string or number anywhere in a JSON value, trimmed, equal to `id`. */
function holds(value: unknown, id: string): boolean {
  if (typeof value === 'string') return value.trim() === id;
  if (typeof value === 'number') return String(value) === id;
  if (Array.isArray(value)) return value.some((item) => holds(item, id));
  if (value !== null && typeof value === 'object')
    return Object.values(value).some((item) => holds(item, id));
  return false;
}

/**
 * How a dead letter's body mentions the user:
 * - `'user'`: a JSON object whose `user_id` is the id (trimmed, as the handler stores it): the
 *   user's own login, which `--delete-dead-letters` deletes;
 * - `'possible'`: the id elsewhere: as another JSON value (a misnamed field, another user's
 *   device id that happens to equal it), or as a word of a body that is not JSON (a truncated
 *   body). Counted, never deleted: it may be another user's record.
 * - `undefined`: not at all.
 */
export function mentions(body: string, userId: string): 'user' | 'possible' | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return containsWord(body, userId) ? 'possible' : undefined;
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const own = (parsed as Record<string, unknown>).user_id;
    if (typeof own === 'string' && own.trim() === userId) return 'user';
  }
  return holds(parsed, userId) ? 'possible' : undefined;
}

/** The dead letters of one scan, sorted by how they mention the user. */
interface Scanned {
  readonly matched: readonly HeldLetter[];
  readonly possible: number;
  readonly hiddenAtStart: number;
  /** Messages the scan left hidden so far (never rejects). */
  leftHidden: number;
}

/**
 * Reads the whole DLQ (scanHolding) and makes the messages that are not the user's visible
 * again at once; the user's stay held for the caller to delete or release. A scan that fails
 * erases nothing: its error says so.
 */
async function scanFor(
  sqs: SQSClient,
  dlqUrl: string,
  holdSeconds: number,
  userId: string,
): Promise<Scanned> {
  const hiddenAtStart = await countHidden(sqs, dlqUrl);
  // A run that dies here leaves what it received hidden for the hold at most.
  const seen = await scanHolding(sqs, dlqUrl, holdSeconds).catch((error: unknown) => {
    throw new Error(
      `the dead-letter queue could not be read whole (${reasonOf(error)}); nothing was erased: run forget again`,
      { cause: error },
    );
  });
  const kinds = new Map(seen.map((m) => [m, mentions(m.body, userId)]));
  const matched = seen.filter((m) => kinds.get(m) === 'user');
  const possible = seen.filter((m) => kinds.get(m) === 'possible').length;
  const others = seen.filter((m) => kinds.get(m) !== 'user');
  return { matched, possible, hiddenAtStart, leftHidden: await releaseHeld(sqs, dlqUrl, others) };
}

/** Where forget finds what to erase; without `dlqUrl` the dead letters are not checked. */
export interface ForgetDeps {
  readonly pool: Pool;
  readonly sqs?: SQSClient;
  readonly dlqUrl?: string;
  /** How long the scan holds each dead letter (SCAN_VISIBILITY_SECONDS; tests shorten it). */
  readonly holdSeconds?: number;
}

const queueOf = (deps: ForgetDeps) =>
  deps.sqs !== undefined && deps.dlqUrl !== undefined
    ? { sqs: deps.sqs, dlqUrl: deps.dlqUrl }
    : undefined;

/**
 * What forgetUser would erase, changing nothing (`--dry-run`): the user's rows by partition,
 * and, with a DLQ, its dead letters as forgetUser counts them (every one is made visible again
 * at the end). Rejects with the database's or SQS's error.
 */
export async function previewForget(
  deps: ForgetDeps,
  key: MaskingKey,
  request: Pick<ForgetRequest, 'userId' | 'deleteDeadLetters'>,
): Promise<ForgetPreview> {
  const userId = request.userId.trim();
  const queue = queueOf(deps);
  const scanned = queue
    ? await scanFor(queue.sqs, queue.dlqUrl, deps.holdSeconds ?? SCAN_VISIBILITY_SECONDS, userId)
    : undefined;
  try {
    const rows = await countUserRows(deps.pool, userId);
    return {
      dryRun: true,
      userToken: userIdToken(key, userId),
      rows: rows.reduce((sum, row) => sum + row.n, 0),
      rowsByPartition: Object.fromEntries(rows.map((row) => [row.partition, row.n])),
      deadLetters:
        scanned === undefined
          ? null
          : {
              matched: scanned.matched.length,
              possible: scanned.possible,
              hiddenAtStart: scanned.hiddenAtStart,
              wouldDelete: request.deleteDeadLetters ? scanned.matched.length : 0,
            },
    };
  } finally {
    if (queue && scanned)
      scanned.leftHidden += await releaseHeld(queue.sqs, queue.dlqUrl, scanned.matched);
  }
}

/**
 * Erases one user: scans the DLQ when one is given (messages that are not the user's are made
 * visible again at once), then in one transaction deletes their rows, deletes the matched dead
 * letters when asked, and appends the audit row with what was deleted (the dead-letter counts
 * NULL when no DLQ was checked). Matched messages not deleted are made visible again. Rejects
 * with the database's or SQS's error when the scan or the transaction fails (no row erased,
 * nothing audited; should the audit insert or the commit fail after dead letters were deleted,
 * those stay deleted). A failed dead-letter delete does not reject: it is audited as not
 * deleted and the result says why.
 */
export async function forgetUser(
  deps: ForgetDeps,
  key: MaskingKey,
  request: ForgetRequest,
): Promise<ForgetResult> {
  const userId = request.userId.trim();
  const userToken = userIdToken(key, userId);
  const queue = queueOf(deps);
  const scanned = queue
    ? await scanFor(queue.sqs, queue.dlqUrl, deps.holdSeconds ?? SCAN_VISIBILITY_SECONDS, userId)
    : undefined;
  const matched = scanned?.matched ?? [];
  let deleted = new Set<HeldLetter>();
  let deleteError: string | undefined;
  let audit: Erasure | undefined;
  try {
    audit = await eraseUser(
      deps.pool,
      userId,
      { operator: request.operator, userToken, reason: request.reason },
      async () => {
        if (!queue || !scanned) return null;
        if (request.deleteDeadLetters)
          ({ deleted, error: deleteError } = await deleteHeld(queue.sqs, queue.dlqUrl, matched));
        return { matched: matched.length, deleted: deleted.size };
      },
    );
  } finally {
    if (queue && scanned) {
      scanned.leftHidden += await releaseHeld(
        queue.sqs,
        queue.dlqUrl,
        matched.filter((m) => !deleted.has(m)),
      );
    }
  }
  return {
    at: audit?.at.toISOString() ?? '',
    dbUser: audit?.dbUser ?? '',
    operator: request.operator,
    userToken,
    rowsDeleted: audit?.rowsDeleted ?? 0,
    deadLetters: scanned
      ? {
          matched: matched.length,
          possible: scanned.possible,
          hiddenAtStart: scanned.hiddenAtStart,
          deleted: deleted.size,
          ...(deleteError === undefined ? {} : { deleteError }),
          leftHidden: scanned.leftHidden,
        }
      : null,
  };
}
