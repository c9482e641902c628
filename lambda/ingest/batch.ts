/**
 * The pipeline for one SQS batch: parse, mask, write, and give every record an explicit fate.
 *
 * - written (or already written: a redelivery), and deleted from the queue by Lambda;
 * - dead-lettered by us with its reason (invalid body, or a row PostgreSQL rejected);
 * - reported in batchItemFailures, so SQS redelivers it (dependency down, DLQ unavailable)
 *   and its redrive policy dead-letters it after maxReceiveCount;
 * - when the batch cannot be written at all (a dependency down, a bad configuration), its
 *   records back off and the invocation fails (systemic.ts).
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeadLetterItem, DeadLetterQueue } from '../aws/dead-letter-queue';
import type { KeyRing } from '../core/key-ring';
import { parseLoginEvent } from '../core/login-event';
import { batchMasker } from '../core/masking';
import { createSealer, type RecoveryPublicKey } from '../core/recovery';
import { recordIdentity, signMarker } from '../core/redrive-marker';
import { toRow, type Valid } from '../core/rows';
import type { LoginStore } from '../db/store';
import { type Backoff, backOffAndFail } from './systemic';

export interface BatchSummary {
  readonly received: number;
  readonly written: number;
  /** Valid records whose message id was already stored: at-least-once redeliveries. */
  readonly duplicates: number;
  readonly deadLettered: number;
  /** Records reported in batchItemFailures (to be redelivered). */
  readonly retried: number;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  readonly statements: number;
  readonly durationMs: number;
}

/** The subset of a structured logger the pipeline uses (Powertools' Logger fits). */
export interface Log {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export interface BatchDependencies {
  readonly store: LoginStore;
  readonly keys: { get(): Promise<KeyRing> };
  /** Undefined when no DLQ is configured: invalid records are then reported as failures. */
  readonly deadLetter: DeadLetterQueue | undefined;
  readonly log: Log;
  readonly publish: (summary: BatchSummary) => void;
  /** Seals ip and device_id for controlled recovery; undefined = no recovery data. */
  readonly recovery?: RecoveryPublicKey;
  readonly now?: () => number;
  /** Extends the visibility of records that must wait; undefined = they wait the queue's timeout. */
  readonly backoff?: Backoff;
}

/**
 * Builds the batch processor. Every record's fate is in the result, except when the batch
 * cannot be written at all: it then rejects (ConfigError or TransientError) after backing off.
 */
export function createBatchProcessor(deps: BatchDependencies) {
  const now = deps.now ?? Date.now;
  const { log } = deps;

  const deadLetter = async (items: DeadLetterItem[], failures: Set<string>): Promise<number> => {
    if (items.length === 0) return 0;
    for (const item of items) {
      log.warn('record rejected', {
        messageId: item.messageId,
        reason: item.reason,
        detail: item.detail,
      });
    }
    const failed =
      deps.deadLetter === undefined
        ? new Set(items.map((item) => item.messageId))
        : await deps.deadLetter.send(items);
    for (const id of failed) failures.add(id);
    return items.length - failed.size;
  };

  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const started = now();
    const records = event.Records;
    const valid: Valid[] = [];
    const invalid: { record: SQSRecord; reason: string; detail: string }[] = [];
    const rejectedByReason: Record<string, number> = {};
    // Cached after the first batch of a container: this resolves at once.
    const ring = deps.keys.get();
    ring.catch(() => {}); // observed below; the DLQ path goes on without it
    const unverified: string[] = [];
    const onUnverified = (messageId: string) => unverified.push(messageId);
    const identity = (record: SQSRecord, keys: KeyRing) =>
      recordIdentity(record, keys, onUnverified);
    // Records are parsed as the rows are produced, so the first rows reach PostgreSQL before
    // the last bodies are parsed. parseNext() parses up to the next valid record.
    let parsedUpTo = 0;
    const parseNext = (): Valid | undefined => {
      while (parsedUpTo < records.length) {
        const record = records[parsedUpTo++] as SQSRecord;
        const parsed = parseLoginEvent(record.body);
        if (parsed.ok) {
          const item = { record, event: parsed.event };
          valid.push(item);
          return item;
        }
        const { reason, detail } = parsed.rejection;
        rejectedByReason[reason] = (rejectedByReason[reason] ?? 0) + 1;
        invalid.push({ record, reason, detail });
      }
      return undefined;
    };

    const failures = new Set<string>();
    // Invalid records go to the DLQ once every record is parsed, while the COPY finishes.
    // Without the key ring (Secrets Manager down) they go without a redrive marker: a
    // redrive is then a new message.
    let invalidSent: Promise<number> | undefined;
    const sendInvalid = (): Promise<number> => {
      while (parseNext() !== undefined);
      invalidSent ??= (async () => {
        if (invalid.length === 0) return 0;
        const keys = await ring.catch(() => undefined);
        const items = invalid.map(({ record, reason, detail }): DeadLetterItem => {
          const source = keys
            ? identity(record, keys)
            : { messageId: record.messageId, sentTimestamp: record.attributes?.SentTimestamp };
          return {
            messageId: record.messageId,
            sourceMessageId: source.messageId,
            sourceSentTimestamp: source.sentTimestamp,
            marker: keys && signMarker(keys.current, source.messageId, source.sentTimestamp),
            body: record.body,
            reason,
            detail,
          };
        });
        return deadLetter(items, failures);
      })();
      return invalidSent;
    };

    let written = 0;
    let duplicates = 0;
    let statements = 0;
    let rowsSent = 0;
    let systemic: unknown;
    const first = parseNext();
    if (first !== undefined) {
      try {
        const keys = await ring;
        const { current } = keys;
        const sealer = deps.recovery && createSealer(deps.recovery);
        const masked = batchMasker(current);
        // Lazy: the store streams the first rows to PostgreSQL while later ones are parsed
        // and masked.
        const rows = (function* () {
          for (let item: Valid | undefined = first; item !== undefined; item = parseNext()) {
            yield toRow(item, identity(item.record, keys), current, masked, sealer, started);
          }
          sendInvalid();
        })();
        const result = await deps.store.insert(rows);
        // A store that stopped early left records unparsed: parse them, so the check below
        // counts every valid record of the batch.
        sendInvalid();
        // Defence in depth: a store that consumed fewer rows than the batch has would report
        // success for records it never wrote; the catch below sends the batch back instead.
        if (result.rows !== valid.length) {
          throw new Error(`the store took ${result.rows} of ${valid.length} rows`);
        }
        written = result.inserted;
        statements = result.statements;
        duplicates = valid.length - result.inserted - result.rejected.length;
        // Built only when the database rejected rows: not per record on the common path.
        const byKey =
          result.rejected.length === 0
            ? new Map()
            : new Map(
                valid.map(({ record }) => {
                  const source = recordIdentity(record, keys);
                  return [source.messageId, { record, source }];
                }),
              );
        const rejectedRows = result.rejected.map((row): DeadLetterItem => {
          rejectedByReason['database.rejected'] = (rejectedByReason['database.rejected'] ?? 0) + 1;
          const found = byKey.get(row.messageId);
          // Cannot happen (rows are built from these records); if it did, the catch below
          // sends the whole batch back rather than dead-letter a body we do not have.
          if (found === undefined) throw new Error('a rejected row matches no record of the batch');
          const { record, source } = found;
          return {
            messageId: record.messageId,
            sourceMessageId: source.messageId,
            sourceSentTimestamp: source.sentTimestamp,
            marker: signMarker(current, source.messageId, source.sentTimestamp),
            body: record.body,
            reason: 'database.rejected',
            detail: `SQLSTATE ${row.sqlState}${row.constraint ? ` (${row.constraint})` : ''}`,
          };
        });
        rowsSent = await deadLetter(rejectedRows, failures);
      } catch (error) {
        // Key or database unavailable: nothing of this batch may be lost, so every valid
        // record goes back to the queue; ON CONFLICT makes the redelivery write each once.
        systemic = error;
        while (parseNext() !== undefined);
        for (const { record } of valid) failures.add(record.messageId);
      }
    }
    const deadLettered = (await sendInvalid()) + rowsSent;
    if (unverified.length > 0) {
      // A producer set SourceMessageId (or a rotated-out key signed it): never trusted.
      log.warn('redrive marker did not verify; stored as a new message', {
        messageIds: [...new Set(unverified)],
      });
    }

    const summary: BatchSummary = {
      received: records.length,
      written,
      duplicates,
      deadLettered,
      retried: failures.size,
      rejectedByReason,
      statements,
      durationMs: now() - started,
    };
    log.info('batch processed', { ...summary });
    deps.publish(summary);
    if (systemic !== undefined)
      await backOffAndFail(records, failures, systemic, deps.backoff, log);
    return { batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
