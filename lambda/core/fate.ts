/**
 * A record's fate as a value, decided from what parsing said and what the store answered;
 * and the one builder of a dead letter. Pure: the pipeline (lambda/ingest/) does the I/O.
 *
 * - written: its row was written now; Lambda deletes it from the queue;
 * - duplicate: its row was already there (an at-least-once redelivery); Lambda deletes it;
 * - dead-letter: it can never be stored (an invalid body, a row PostgreSQL rejected);
 * - retry: it goes back to the queue (the batch could not be written, or its dead letter
 *   could not be sent), and the queue's redrive policy dead-letters it after maxReceiveCount.
 */
import type { SQSRecord } from 'aws-lambda';
import { TransientError } from './errors';
import type { MaskingKey } from './masking';
import { type RecordIdentity, signMarker } from './redrive-marker';

export type Fate =
  | { readonly kind: 'written' }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'dead-letter'; readonly reason: string; readonly detail: string }
  | { readonly kind: 'retry' };

/** The reason of a row PostgreSQL rejected (a CHECK or NOT NULL violation, …). */
export const DATABASE_REJECTED = 'database.rejected';

/** A record as parsing left it. */
export interface ParsedRecord {
  /** The record's id in this delivery (what batchItemFailures name). */
  readonly messageId: string;
  /** Why its body can never be stored; undefined for a valid record. */
  readonly rejection?: { readonly reason: string; readonly detail: string } | undefined;
  /** The id its row was stored under (a valid record whose row was built). */
  readonly rowId?: string | undefined;
}

/** A row the database rejected, by the id it was stored under. */
export interface RejectedRow {
  readonly messageId: string;
  /** SQLSTATE, e.g. 23514 for a CHECK violation. */
  readonly sqlState: string;
  readonly constraint: string | undefined;
}

/** What the store answered: its result, or the error that stopped the batch. */
export type StoreAnswer =
  | {
      readonly ok: true;
      /** Rows it took from the batch. */
      readonly rows: number;
      /** Row ids of the rows that were already stored (redeliveries); every other row it took was written or rejected. */
      readonly existing: readonly string[];
      readonly rejected: readonly RejectedRow[];
      readonly statements: number;
    }
  | { readonly ok: false; readonly error: unknown };

export interface FateDecision {
  /** Every record's fate by delivery message id, in the order they were decided. */
  readonly fates: ReadonlyMap<string, Fate>;
  readonly written: number;
  /** Valid records whose row was already stored: at-least-once redeliveries. */
  readonly duplicates: number;
  /** Records to dead-letter. */
  readonly deadLetters: number;
  readonly statements: number;
  /** Why the batch could not be written (every valid record retries); undefined if it was. */
  readonly systemic: unknown;
}

const deadLetter = (reason: string, detail: string): Fate => ({
  kind: 'dead-letter',
  reason,
  detail,
});
const WRITTEN: Fate = { kind: 'written' };
const DUPLICATE: Fate = { kind: 'duplicate' };
const RETRY: Fate = { kind: 'retry' };

/**
 * Decides the fate of each of `parsed`, after those of `decided` (fates decided earlier, e.g.
 * the invalid bodies' as soon as the last body was parsed; kept as they are). An invalid body
 * is dead-lettered with its reason. A valid one is written, a duplicate when the store found
 * its row already there, or dead-lettered when the database rejected its row; all valid ones
 * retry when the store failed (`answer.ok` false; the store's errors are TransientError or
 * ConfigError), or answered for rows the batch does not have or for fewer rows than it has
 * (a store that reported success for rows it never wrote: a TransientError).
 * `answer` is undefined when the store was not asked (no valid record among `parsed`).
 */
export function decideFates(
  parsed: readonly ParsedRecord[],
  answer: StoreAnswer | undefined,
  decided?: FateDecision,
): FateDecision {
  const fates = new Map<string, Fate>(decided?.fates);
  let deadLetters = decided?.deadLetters ?? 0;
  const valid: ParsedRecord[] = [];
  for (const record of parsed) {
    const { rejection } = record;
    if (rejection === undefined) valid.push(record);
    else {
      fates.set(record.messageId, deadLetter(rejection.reason, rejection.detail));
      deadLetters++;
    }
  }
  const counts = {
    written: decided?.written ?? 0,
    duplicates: decided?.duplicates ?? 0,
    statements: decided?.statements ?? 0,
  };
  const systemic = answer === undefined ? decided?.systemic : systemicError(valid, answer);
  if (answer === undefined || !answer.ok || systemic !== undefined) {
    for (const { messageId } of valid) fates.set(messageId, RETRY);
    return { fates, ...counts, deadLetters, systemic };
  }
  const rejected = new Map(answer.rejected.map((row) => [row.messageId, row]));
  // A row id may be the row of two records (a redrive beside a redelivery of its original):
  // each row the store found already there makes one of them a duplicate.
  const existing = new Map<string, number>();
  for (const id of answer.existing) existing.set(id, (existing.get(id) ?? 0) + 1);
  for (const { messageId, rowId } of valid) {
    const row = rowId === undefined ? undefined : rejected.get(rowId);
    const left = rowId === undefined ? 0 : (existing.get(rowId) ?? 0);
    let fate = WRITTEN;
    if (row !== undefined) fate = deadLetter(DATABASE_REJECTED, sqlDetail(row));
    else if (left > 0) {
      existing.set(rowId as string, left - 1);
      fate = DUPLICATE;
    }
    fates.set(messageId, fate);
    if (fate.kind === 'dead-letter') deadLetters++;
    else if (fate.kind === 'duplicate') counts.duplicates++;
    else counts.written++;
  }
  counts.statements += answer.statements;
  return { fates, ...counts, deadLetters, systemic: undefined };
}

/** The error that makes the whole batch retry, if the store's answer calls for one. */
function systemicError(valid: readonly ParsedRecord[], answer: StoreAnswer): unknown {
  if (!answer.ok) return answer.error;
  // Defence in depth: a store that consumed fewer rows than the batch has would report
  // success for records it never wrote; the batch goes back instead.
  if (answer.rows !== valid.length) {
    return new TransientError(`the store took ${answer.rows} of ${valid.length} rows`);
  }
  if (answer.rejected.length === 0) return undefined;
  // Cannot happen (rows are built from these records); if it did, the batch goes back rather
  // than dead-letter a body we do not have.
  const rowIds = new Set(valid.map((record) => record.rowId));
  if (answer.rejected.some((row) => !rowIds.has(row.messageId))) {
    return new TransientError('a rejected row matches no record of the batch');
  }
  return undefined;
}

const sqlDetail = (row: RejectedRow) =>
  `SQLSTATE ${row.sqlState}${row.constraint ? ` (${row.constraint})` : ''}`;

/**
 * The fates once the dead letters were sent: one that could not be sent (its id in `unsent`)
 * retries instead, so SQS redelivers it and its redrive policy dead-letters it.
 */
export function settleFates(
  fates: ReadonlyMap<string, Fate>,
  unsent: ReadonlySet<string>,
): ReadonlyMap<string, Fate> {
  if (unsent.size === 0) return fates;
  const settled = new Map(fates);
  for (const id of unsent) if (settled.get(id)?.kind === 'dead-letter') settled.set(id, RETRY);
  return settled;
}

/** Counts of settled fates, and the records that go back to the queue and to the DLQ. */
export function tallyFates(fates: ReadonlyMap<string, Fate>) {
  const retry: string[] = [];
  const deadLettered: string[] = [];
  for (const [messageId, fate] of fates) {
    if (fate.kind === 'retry') retry.push(messageId);
    else if (fate.kind === 'dead-letter') deadLettered.push(messageId);
  }
  return { retry, deadLettered };
}

/** A message for the dead-letter queue: the body unchanged, with its reason and identity. */
export interface DeadLetterItem {
  /** The SQS message id in this delivery (what batchItemFailures name). */
  readonly messageId: string;
  /** The id the message was first sent under (its row id; see redrive-marker.ts). */
  readonly sourceMessageId: string;
  /** SentTimestamp (epoch ms) of the first send: the row's create_date; covered by the marker. */
  readonly sourceSentTimestamp?: string | undefined;
  /** HMAC marker of sourceMessageId (redrive-marker.ts); undefined when the key ring was unavailable. */
  readonly marker?: string | undefined;
  readonly body: string;
  /** Machine-readable reason, e.g. "ip.invalid" or "database.rejected". */
  readonly reason: string;
  /** Human-readable, never holding a raw value. */
  readonly detail: string;
}

/**
 * The dead letter of `record`, under its identity `source`, signed with `key` so that a
 * redrive is recognised as the same message (unsigned without a key: a redrive is then new).
 */
export function deadLetterItem(
  record: Pick<SQSRecord, 'messageId' | 'body'>,
  source: RecordIdentity,
  key: MaskingKey | undefined,
  fate: { readonly reason: string; readonly detail: string },
): DeadLetterItem {
  return {
    messageId: record.messageId,
    sourceMessageId: source.messageId,
    sourceSentTimestamp: source.sentTimestamp,
    marker: key && signMarker(key, source.messageId, source.sentTimestamp),
    body: record.body,
    reason: fate.reason,
    detail: fate.detail,
  };
}
