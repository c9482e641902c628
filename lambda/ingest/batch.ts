/**
 * The pipeline for one SQS batch: parse → write → decide fates → send dead letters → respond.
 * Every record gets an explicit fate (core/fate.ts):
 *
 * - written, or a duplicate (its row already there: a redelivery), and deleted from the
 *   queue by Lambda;
 * - dead-lettered by us with its reason (invalid body, or a row PostgreSQL rejected);
 * - reported in batchItemFailures, so SQS redelivers it (dependency down, DLQ unavailable)
 *   and its redrive policy dead-letters it after maxReceiveCount;
 * - when the batch cannot be written at all (a dependency down, a bad configuration), its
 *   records back off and the invocation fails (systemic.ts).
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeadLetterQueue } from '../aws/dead-letter-queue';
import {
  type DeadLetterItem,
  deadLetterItem,
  decideFates,
  type Fate,
  type FateDecision,
  type ParsedRecord,
  settleFates,
  tallyFates,
} from '../core/fate';
import type { KeyRing } from '../core/key-ring';
import type { MaskingKey } from '../core/masking';
import type { RecoveryPublicKey } from '../core/recovery';
import { type RecordIdentity, recordIdentity } from '../core/redrive-marker';
import type { LoginStore } from '../db/store';
import { type BatchParser, createBatchParser, type Invalid } from './parse';
import { deadLetterSender } from './send';
import { type Backoff, backOffAndFail } from './systemic';
import { type Written, writeRows } from './write';

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
  /** The delivery message ids of the records counted in deadLettered. */
  readonly deadLetteredIds: readonly string[];
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
  const send = deadLetterSender(deps.deadLetter, log);

  /** Logs and publishes the batch's counts, then backs off and throws, or names the retries. */
  const respond = async (
    records: readonly SQSRecord[],
    decision: FateDecision,
    unsent: ReadonlySet<string>,
    started: number,
  ): Promise<SQSBatchResponse> => {
    const { retry, deadLettered } = tallyFates(settleFates(decision.fates, unsent));
    const summary: BatchSummary = {
      received: records.length,
      written: decision.written,
      duplicates: decision.duplicates,
      deadLettered: deadLettered.length,
      retried: retry.length,
      rejectedByReason: countReasons(decision.fates),
      statements: decision.statements,
      durationMs: now() - started,
      deadLetteredIds: deadLettered,
    };
    log.info('batch processed', { ...summary });
    deps.publish(summary);
    if (decision.systemic !== undefined) {
      await backOffAndFail(records, new Set(retry), decision.systemic, deps.backoff, log);
    }
    return { batchItemFailures: retry.map((itemIdentifier) => ({ itemIdentifier })) };
  };

  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const started = now();
    const records = event.Records;
    // Cached after the first batch of a container: this resolves at once.
    const ring = deps.keys.get();
    ring.catch(() => {}); // observed by the steps; the invalid bodies' dead letters go without it
    // Parse as the rows stream; the invalid bodies' fates are decided, and their dead letters
    // sent, once the last body is parsed, while the store finishes.
    const parser = createBatchParser(records);
    const invalid = parser.parsed.then((bodies) => rejectInvalid(bodies, ring, send));
    const written = await writeRows(parser, ring, started, {
      store: deps.store,
      recovery: deps.recovery,
    });
    const early = await invalid;
    const decision = decideFates(validRecords(parser, written), written.answer, early.decision);
    const [invalidSent, rejectedUnsent] = await Promise.all([
      early.sent,
      send(rejectedRows(parser, written, decision, early.decision)),
    ]);
    const unverified = [...written.unverified, ...invalidSent.unverified];
    if (unverified.length > 0) {
      // A producer set SourceMessageId (or a rotated-out key signed it): never trusted.
      log.warn('redrive marker did not verify; stored as a new message', {
        messageIds: [...new Set(unverified)],
      });
    }
    return respond(records, decision, union(invalidSent.unsent, rejectedUnsent), started);
  };
}

const NONE: ReadonlySet<string> = new Set();

/** What sending a set of dead letters came to. */
interface Sent {
  /** The records whose dead letter could not be sent. */
  readonly unsent: ReadonlySet<string>;
  /** Records whose SourceMessageId did not verify: dead-lettered under their own id. */
  readonly unverified: readonly string[];
}

/**
 * The invalid bodies' step: their fates, decided as soon as the last body is parsed (the
 * final decision keeps them), and their dead letters, sent. Without the key ring (Secrets
 * Manager down) these go without a redrive marker: a redrive is then a new message.
 */
function rejectInvalid(
  bodies: readonly Invalid[],
  ring: Promise<KeyRing>,
  send: (items: readonly DeadLetterItem[]) => Promise<ReadonlySet<string>>,
): { readonly decision: FateDecision; readonly sent: Promise<Sent> } {
  const decision = decideFates(
    bodies.map(({ record, rejection }) => ({ messageId: record.messageId, rejection })),
    undefined,
  );
  const sent = async (): Promise<Sent> => {
    if (decision.deadLetters === 0) return { unsent: NONE, unverified: [] };
    const keys = await ring.catch(() => undefined);
    const unverified: string[] = [];
    const identityOf = (record: SQSRecord) =>
      keys
        ? recordIdentity(record, keys, (messageId) => unverified.push(messageId))
        : ownIdentity(record);
    const items = deadLetters(
      bodies.map(({ record }) => record),
      decision.fates,
      identityOf,
      keys?.current,
    );
    return { unsent: await send(items), unverified };
  };
  return { decision, sent: sent() };
}

/** What the fate decision needs of each valid record: its row id. */
function validRecords(parser: BatchParser, written: Written): ParsedRecord[] {
  return parser.valid.map(({ record }, i) => ({
    messageId: record.messageId,
    rowId: written.identities[i]?.messageId,
  }));
}

const ownIdentity = (record: SQSRecord) => ({
  messageId: record.messageId,
  sentTimestamp: record.attributes?.SentTimestamp,
});

/** The dead letters of the valid records whose rows the database rejected. */
function rejectedRows(
  parser: BatchParser,
  written: Written,
  decision: FateDecision,
  early: FateDecision,
): DeadLetterItem[] {
  // Looked for only when the decision dead-letters a valid record: not on the common path.
  if (decision.deadLetters === early.deadLetters) return [];
  return deadLetters(
    parser.valid.map(({ record }) => record),
    decision.fates,
    (_, i) => written.identities[i],
    written.keys?.current,
  );
}

/**
 * The dead letters of those of `records` whose fate is dead-letter, each under its identity
 * (`identityOf`; where it has none, its own id: a redrive is then a new message, never a
 * dead letter left unsent while its record is deleted) and signed with `key`.
 */
function deadLetters(
  records: readonly SQSRecord[],
  fates: ReadonlyMap<string, Fate>,
  identityOf: (record: SQSRecord, index: number) => RecordIdentity | undefined,
  key: MaskingKey | undefined,
): DeadLetterItem[] {
  const items: DeadLetterItem[] = [];
  records.forEach((record, i) => {
    const fate = fates.get(record.messageId);
    if (fate?.kind !== 'dead-letter') return;
    items.push(deadLetterItem(record, identityOf(record, i) ?? ownIdentity(record), key, fate));
  });
  return items;
}

/** Records dead-lettered (or to be) by reason: the invalid bodies' reasons first. */
function countReasons(fates: ReadonlyMap<string, Fate>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const fate of fates.values()) {
    if (fate.kind === 'dead-letter') counts[fate.reason] = (counts[fate.reason] ?? 0) + 1;
  }
  return counts;
}

const union = (a: ReadonlySet<string>, b: ReadonlySet<string>): ReadonlySet<string> =>
  b.size === 0 ? a : a.size === 0 ? b : new Set([...a, ...b]);
